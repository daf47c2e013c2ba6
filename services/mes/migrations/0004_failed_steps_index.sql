-- printflow_job_failures_total counts the FAILED steps of job_events at every scrape.
CREATE INDEX job_events_failed_idx ON job_events (failure_reason) WHERE to_status = 'FAILED';
