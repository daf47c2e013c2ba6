package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Jobs of the native config that exist for the tests only (file_sd targets they write).
var testOnlyJobs = map[string]bool{"printflow-test": true}

func runSameJobs(args []string) int {
	if len(args) != 2 {
		usage()
	}
	r := &report{}
	overlay, err := os.ReadFile(args[1])
	if err != nil {
		r.fail("%v", err)
	} else {
		compareJobs(args[0], args[1], overlay, r)
	}
	return r.finish(fmt.Sprintf("same-jobs %s %s", args[0], args[1]))
}

func jobNames(data []byte) ([]string, error) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	var names []string
	for _, s := range cfg.ScrapeConfigs {
		names = append(names, s.JobName)
	}
	sort.Strings(names)
	return names, nil
}

// compareJobs fails unless `what` scrapes exactly the native jobs (tests' jobs aside): the
// rules, dashboards and the console select on these job labels.
func compareJobs(nativePath, what string, overlay []byte, r *report) {
	nativeData, err := os.ReadFile(nativePath)
	if err != nil {
		r.fail("%v", err)
		return
	}
	native, err := jobNames(nativeData)
	if err != nil {
		r.fail("%s: %v", nativePath, err)
		return
	}
	got, err := jobNames(overlay)
	if err != nil {
		r.fail("%s: %v", what, err)
		return
	}
	want := map[string]bool{}
	for _, j := range native {
		if !testOnlyJobs[j] {
			want[j] = true
		}
	}
	have := map[string]bool{}
	for _, j := range got {
		have[j] = true
		if !want[j] {
			r.fail("%s scrapes job %q, which %s does not", what, j, nativePath)
		}
	}
	var missing []string
	for j := range want {
		if !have[j] {
			missing = append(missing, j)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		r.fail("%s lacks the native job(s) %s", what, strings.Join(missing, ", "))
	} else {
		r.note("%s scrapes the %d native jobs", what, len(want))
	}
}

type datasource struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
	Type string `json:"type"`
}

func datasources(path string) ([]datasource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Datasources []datasource `json:"datasources"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Datasources, nil
}

func runSameDatasources(args []string) int {
	if len(args) != 2 {
		usage()
	}
	r := &report{}
	native, err1 := datasources(args[0])
	overlay, err2 := datasources(args[1])
	for _, err := range []error{err1, err2} {
		if err != nil {
			r.fail("%v", err)
		}
	}
	if err1 == nil && err2 == nil {
		have := map[datasource]bool{}
		for _, d := range overlay {
			have[d] = true
		}
		for _, d := range native {
			if !have[d] {
				r.fail("%s lacks data source %q (uid %s, type %s) of %s: the dashboards refer to it", args[1], d.Name, d.UID, d.Type, args[0])
			}
		}
		if len(overlay) != len(native) {
			r.fail("%s has %d data sources, %s %d", args[1], len(overlay), args[0], len(native))
		}
		r.note("%d data sources, same names, uids and types", len(native))
	}
	return r.finish(fmt.Sprintf("same-datasources %s %s", args[0], args[1]))
}
