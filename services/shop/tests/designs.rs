//! The 3D design editor: create, edit, save (forming a real STL), download, immutability and
//! the loud failure of a lost file.

mod common;

use common::{assert_error, spawn_app, TestApp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// A binary STL read back independently of the service's writer.
struct Stl {
    triangles: Vec<[[f32; 3]; 4]>, // normal, v1, v2, v3
}

fn parse_stl(bytes: &[u8]) -> Stl {
    assert!(bytes.len() >= 84, "too short for binary STL");
    let count = u32::from_le_bytes(bytes[80..84].try_into().unwrap()) as usize;
    assert_eq!(
        bytes.len(),
        84 + 50 * count,
        "size does not match the triangle count"
    );
    let f = |off: usize| f32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    let triangles = (0..count)
        .map(|t| {
            let base = 84 + 50 * t;
            assert_eq!(&bytes[base + 48..base + 50], &[0, 0], "attribute bytes");
            let mut tri = [[0f32; 3]; 4];
            for (k, v) in tri.iter_mut().enumerate() {
                for (c, x) in v.iter_mut().enumerate() {
                    *x = f(base + 12 * k + 4 * c);
                }
            }
            tri
        })
        .collect();
    Stl { triangles }
}

impl Stl {
    /// Signed volume from the triangles (divergence theorem).
    fn volume(&self) -> f64 {
        self.triangles
            .iter()
            .map(|[_, a, b, c]| {
                let [a, b, c] = [a, b, c].map(|v| v.map(f64::from));
                let cross = [
                    b[1] * c[2] - b[2] * c[1],
                    b[2] * c[0] - b[0] * c[2],
                    b[0] * c[1] - b[1] * c[0],
                ];
                (a[0] * cross[0] + a[1] * cross[1] + a[2] * cross[2]) / 6.0
            })
            .sum()
    }

    fn bbox(&self) -> [f64; 3] {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for [_, a, b, c] in &self.triangles {
            for v in [a, b, c] {
                for k in 0..3 {
                    lo[k] = lo[k].min(f64::from(v[k]));
                    hi[k] = hi[k].max(f64::from(v[k]));
                }
            }
        }
        [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]]
    }

    /// Every undirected edge (by exact vertex position) is used exactly twice, once each way.
    fn is_closed_and_oriented(&self) -> bool {
        let key = |v: &[f32; 3]| v.map(f32::to_bits);
        let mut directed: HashMap<([u32; 3], [u32; 3]), u32> = HashMap::new();
        for [_, a, b, c] in &self.triangles {
            for (p, q) in [(a, b), (b, c), (c, a)] {
                *directed.entry((key(p), key(q))).or_default() += 1;
            }
        }
        directed
            .iter()
            .all(|(&(p, q), &n)| n == 1 && directed.get(&(q, p)) == Some(&1))
    }
}

async fn download(app: &TestApp, design_id: &str, version: i64) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/designs/{design_id}/versions/{version}/model")))
        .send()
        .await
        .unwrap()
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn id_of(design: &Value) -> String {
    design["design_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_design_starts_from_the_products_defaults() {
    let app = spawn_app().await;
    for shape in ["box", "cylinder"] {
        let product = app.product_of_shape(shape).await;
        let design = app.create_design(&product["id"]).await;
        let p = &design["parameters"];
        assert_eq!(design["product_id"], product["id"]);
        assert_eq!(design["revision"], 1);
        assert_eq!(design["versions"], json!([]));
        assert_eq!(p["shape"], shape);
        assert_eq!(p["material"], product["material"]);
        assert_eq!(p["height_mm"], product["height_mm"]);
        assert_eq!(p["scale"], 1.0);
        let dims: &[&str] = if shape == "box" {
            &["width_mm", "depth_mm"]
        } else {
            &["diameter_mm"]
        };
        for d in dims {
            assert_eq!(p[*d], product[*d], "{d}");
        }
        let (status, fetched) = app.get(&format!("/designs/{}", id_of(&design))).await;
        assert_eq!(status, 200);
        assert_eq!(fetched, design);
    }
    let unknown = app
        .post("/designs", &json!({"product_id": uuid::Uuid::new_v4()}))
        .await;
    assert_error(&unknown, 404, "product_not_found", Some("product_id"));
    let bad = app.post("/designs", &json!({"product_id": "abc"})).await;
    assert_error(&bad, 422, "validation_failed", Some("product_id"));
}

#[tokio::test]
async fn edits_apply_and_a_rejected_request_changes_nothing_but_is_logged() {
    let app = spawn_app().await;
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let id = id_of(&design);
    let depth = product["depth_mm"].as_f64().unwrap();
    let height = product["height_mm"].as_f64().unwrap();

    let (status, edited) = app
        .edit(
            &id,
            json!([
                {"op": "set_dimension", "dimension": "width_mm", "value": 40.0},
                {"op": "scale", "factor": 1.5},
                {"op": "set_material", "material": "PETG"},
                {"op": "set_colour", "colour": "red"},
                {"op": "set_engraving", "text": "Happy Birthday"}
            ]),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    let p = &edited["parameters"];
    assert_eq!(p["width_mm"], 60.0);
    assert_eq!(p["depth_mm"], depth * 1.5);
    assert_eq!(p["height_mm"], height * 1.5);
    assert_eq!(p["scale"], 1.5);
    assert_eq!(
        (p["material"].as_str(), p["colour"].as_str()),
        (Some("PETG"), Some("red"))
    );
    assert_eq!(p["engraving"], "Happy Birthday");
    assert_eq!(edited["revision"], 2);

    // One bad op (a box has no diameter) rejects the whole request.
    let rejected = app
        .edit(
            &id,
            json!([
                {"op": "set_colour", "colour": "blue"},
                {"op": "set_dimension", "dimension": "diameter_mm", "value": 30.0},
                {"op": "set_engraving", "text": "never"}
            ]),
        )
        .await;
    assert_error(
        &rejected,
        422,
        "edit_rejected",
        Some("operations[1].dimension"),
    );
    let bad_value = app
        .edit(
            &id,
            json!([{"op": "set_dimension", "dimension": "height_mm", "value": 1e6}]),
        )
        .await;
    assert_error(
        &bad_value,
        422,
        "edit_rejected",
        Some("operations[0].value"),
    );
    let bad_op = app.edit(&id, json!([{"op": "paint"}])).await;
    assert_error(&bad_op, 422, "edit_rejected", Some("operations[0].op"));
    // Mistyped and missing fields are named by their path, after the op they belong to.
    let mistyped = app
        .edit(
            &id,
            json!([
                {"op": "scale", "factor": 1},
                {"op": "set_dimension", "dimension": "width_mm", "value": "wide"}
            ]),
        )
        .await;
    assert_error(&mistyped, 422, "edit_rejected", Some("operations[1].value"));
    let missing = app.edit(&id, json!([{"op": "set_colour"}])).await;
    assert_error(&missing, 422, "edit_rejected", Some("operations[0].colour"));

    let (_, after) = app.get(&format!("/designs/{id}")).await;
    assert_eq!(
        after["parameters"], edited["parameters"],
        "a rejected edit changed the draft"
    );
    assert_eq!(after["revision"], 2);

    // Every operation is in the log: 5 accepted, then 3 + 1 + 1 + 2 + 1 not applied.
    let (status, log) = app.get(&format!("/designs/{id}/edits")).await;
    assert_eq!(status, 200);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 13);
    assert!(log[..5]
        .iter()
        .all(|e| e["accepted"] == true && e["revision"] == 2));
    assert!(log[5..]
        .iter()
        .all(|e| e["accepted"] == false && e["revision"] == 2));
    assert_eq!(log[6]["op"]["dimension"], "diameter_mm");
    assert!(log[6]["reason"].as_str().unwrap().contains("diameter_mm"));
    assert!(log[5]["reason"].as_str().unwrap().contains("not applied"));
    assert!(log[7]["reason"].as_str().unwrap().contains("not evaluated"));
    // And the database agrees.
    let rejected_rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM design_edits WHERE design_id = $1::uuid AND NOT accepted",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rejected_rows, 8);

    let empty = app.edit(&id, json!([])).await;
    assert_error(&empty, 422, "validation_failed", Some("operations"));
    let unknown = app
        .edit(
            &uuid::Uuid::new_v4().to_string(),
            json!([{"op": "scale", "factor": 2}]),
        )
        .await;
    assert_error(&unknown, 404, "design_not_found", None);
}

#[tokio::test]
async fn saving_a_box_forms_an_exact_stl() {
    let app = spawn_app().await;
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let id = id_of(&design);
    let (status, edited) = app
        .edit(
            &id,
            json!([
                {"op": "set_dimension", "dimension": "width_mm", "value": 42.5},
                {"op": "set_dimension", "dimension": "depth_mm", "value": 31.25},
                {"op": "set_dimension", "dimension": "height_mm", "value": 18.0},
                {"op": "set_engraving", "text": "PF"}
            ]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, version) = app.save(&id).await;
    assert_eq!(status, 201, "{version}");
    assert_eq!(version["version"], 1);
    assert_eq!(version["parameters"], edited["parameters"]);

    let resp = download(&app, &id, 1).await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert_eq!(headers["content-type"], "model/stl");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let bytes = resp.bytes().await.unwrap();
    let sha = sha_hex(&bytes);
    assert_eq!(version["sha256"], sha);
    assert_eq!(headers["x-checksum-sha256"], sha.as_str());
    assert_eq!(headers["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(version["size_bytes"], bytes.len());

    let stl = parse_stl(&bytes);
    assert_eq!(stl.triangles.len(), 12);
    assert_eq!(version["triangle_count"], 12);
    assert!(stl.is_closed_and_oriented());
    let (w, d, h) = (42.5, 31.25, 18.0);
    let volume = stl.volume();
    assert!(
        (volume - w * d * h).abs() < 1e-9 * w * d * h,
        "{volume} vs {}",
        w * d * h
    );
    assert_eq!(stl.bbox(), [w, d, h]);
    assert!((version["volume_mm3"].as_f64().unwrap() - volume).abs() < 1e-6);
    let bb = &version["bounding_box_mm"];
    assert_eq!(
        [
            bb["x_mm"].as_f64(),
            bb["y_mm"].as_f64(),
            bb["z_mm"].as_f64()
        ],
        [Some(w), Some(d), Some(h)]
    );

    // Pricing follows the material table: grams = printed cm³ (1.2 mm shell + 15% infill of
    // the interior) x density, unit = base + material.
    let density = match product["material"].as_str().unwrap() {
        "PLA" => 1.24,
        "PETG" => 1.27,
        "ABS" => 1.04,
        "TPU" => 1.21,
        "RESIN" => 1.15,
        other => panic!("unexpected material {other}"),
    };
    let area = 2.0 * (w * d + w * h + d * h);
    let shell = (area * 1.2).min(volume);
    let printed = shell + 0.15 * (volume - shell);
    assert!(
        (version["material_grams"].as_f64().unwrap() - printed / 1000.0 * density).abs() < 1e-6
    );
    assert_eq!(
        version["unit_price_cents"].as_i64().unwrap(),
        product["base_price_cents"].as_i64().unwrap()
            + version["material_cost_cents"].as_i64().unwrap()
    );
    assert!(version["estimated_print_seconds"].as_i64().unwrap() > 300);

    // The design lists the version; the save is recorded as ok.
    let (_, design) = app.get(&format!("/designs/{id}")).await;
    assert_eq!(design["versions"][0]["sha256"], sha);
    let (_, saves) = app.get(&format!("/designs/{id}/saves")).await;
    assert_eq!(saves[0]["outcome"], "ok");
    assert_eq!(saves[0]["version"], 1);
}

#[tokio::test]
async fn saving_a_cylinder_approximates_pi_r2_h() {
    let app = spawn_app().await;
    let product = app.product_of_shape("cylinder").await;
    let design = app.create_design(&product["id"]).await;
    let id = id_of(&design);
    let (status, _) = app
        .edit(
            &id,
            json!([{"op": "set_dimension", "dimension": "diameter_mm", "value": 80.0},
                          {"op": "set_dimension", "dimension": "height_mm", "value": 35.0}]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, version) = app.save(&id).await;
    assert_eq!(status, 201, "{version}");
    let bytes = download(&app, &id, 1).await.bytes().await.unwrap();
    let stl = parse_stl(&bytes);
    assert_eq!(version["triangle_count"], stl.triangles.len());
    assert!(
        stl.triangles.len() >= 4 * 64,
        "too coarse: {}",
        stl.triangles.len()
    );
    assert!(stl.is_closed_and_oriented());
    let exact = std::f64::consts::PI * 40.0 * 40.0 * 35.0;
    let volume = stl.volume();
    assert!(
        ((volume - exact) / exact).abs() < 0.001,
        "{volume} vs {exact}"
    );
    assert!((version["volume_mm3"].as_f64().unwrap() - volume).abs() < 1e-6 * exact);
    let bbox = stl.bbox();
    for (got, want) in bbox.iter().zip([80.0, 80.0, 35.0]) {
        assert!((got - want).abs() < 1e-3, "{bbox:?}");
    }
    assert_eq!(version["sha256"], sha_hex(&bytes));
}

#[tokio::test]
async fn a_design_too_big_for_the_printer_fails_to_save_and_the_failure_is_recorded() {
    let app = spawn_app().await;
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let id = id_of(&design);
    // Each edit is legal (<= 1000 mm); the printer is 250 x 210 x 210.
    let (status, _) = app
        .edit(
            &id,
            json!([{"op": "set_dimension", "dimension": "width_mm", "value": 100.0},
                          {"op": "set_dimension", "dimension": "depth_mm", "value": 100.0},
                          {"op": "set_dimension", "dimension": "height_mm", "value": 100.0},
                          {"op": "scale", "factor": 2.4}]),
        )
        .await;
    assert_eq!(status, 200);
    let got = app.save(&id).await;
    assert_error(&got, 422, "design_invalid", None);
    assert!(
        got.1["message"].as_str().unwrap().contains("build volume"),
        "{}",
        got.1
    );
    let (_, saves) = app.get(&format!("/designs/{id}/saves")).await;
    let saves = saves.as_array().unwrap();
    assert_eq!(saves.len(), 1);
    assert_eq!(saves[0]["outcome"], "failed");
    assert!(saves[0]["reason"]
        .as_str()
        .unwrap()
        .contains("build volume"));
    assert_eq!(saves[0]["version"], Value::Null);
    let (_, versions) = app.get(&format!("/designs/{id}/versions")).await;
    assert_eq!(versions, json!([]));
    // Nothing was written to the model store.
    assert!(!app.store_dir.join("designs").join(&id).exists());

    // Shrinking it back makes it printable.
    let (status, _) = app.edit(&id, json!([{"op": "scale", "factor": 0.5}])).await;
    assert_eq!(status, 200);
    let (status, version) = app.save(&id).await;
    assert_eq!(status, 201, "{version}");
    assert_eq!(version["version"], 1);
}

#[tokio::test]
async fn saved_versions_are_immutable() {
    let app = spawn_app().await;
    let (design, v1) = app.saved_box_design().await;
    let id = id_of(&design);
    let (status, _) = app
        .edit(
            &id,
            json!([{"op": "scale", "factor": 0.5}, {"op": "set_colour", "colour": "#00ff00"}]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, v2) = app.save(&id).await;
    assert_eq!(status, 201);
    assert_eq!(v2["version"], 2);
    assert_ne!(v2["sha256"], v1["sha256"]);

    let (status, v1_again) = app.get(&format!("/designs/{id}/versions/1")).await;
    assert_eq!(status, 200);
    assert_eq!(v1_again, v1);
    let bytes = download(&app, &id, 1).await.bytes().await.unwrap();
    assert_eq!(sha_hex(&bytes), v1["sha256"].as_str().unwrap());
    let (_, list) = app.get(&format!("/designs/{id}/versions")).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // The database itself refuses to change or remove a saved version.
    for sql in [
        "UPDATE design_versions SET sha256 = repeat('0', 64) WHERE design_id = $1::uuid",
        "DELETE FROM design_versions WHERE design_id = $1::uuid",
    ] {
        let err = sqlx::query(sql).bind(&id).execute(&app.db.pool).await;
        assert!(err.is_err(), "{sql} succeeded");
        assert!(err.unwrap_err().to_string().contains("immutable"));
    }
    let (_, v1_after) = app.get(&format!("/designs/{id}/versions/1")).await;
    assert_eq!(v1_after, v1);
}

#[tokio::test]
async fn concurrent_saves_get_distinct_versions() {
    let app = spawn_app().await;
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let id = id_of(&design);
    let saves = futures::future::join_all((0..5).map(|_| app.save(&id))).await;
    let mut versions = HashSet::new();
    for (status, v) in &saves {
        assert_eq!(*status, 201, "{v}");
        versions.insert(v["version"].as_i64().unwrap());
    }
    assert_eq!(versions, (1..=5).collect());
    // Every version's file is there and intact.
    for v in 1..=5 {
        let resp = download(&app, &id, v).await;
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn a_lost_or_corrupted_model_file_is_a_loud_500() {
    let app = spawn_app().await;
    let (design, v1) = app.saved_box_design().await;
    let id = id_of(&design);
    let file = app.store_dir.join(format!("designs/{id}/v1.stl"));
    assert!(file.is_file(), "model not at {}", file.display());

    // Corrupt: one flipped byte.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let resp = download(&app, &id, 1).await;
    let got = common::split(resp).await;
    assert_error(&got, 500, "model_file_corrupt", None);

    // Missing.
    std::fs::remove_file(&file).unwrap();
    let resp = download(&app, &id, 1).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    let got = common::split(resp).await;
    assert_error(&got, 500, "model_file_missing", None);
    // The metadata is still served (it is the file that is gone).
    let (status, meta) = app.get(&format!("/designs/{id}/versions/1")).await;
    assert_eq!(status, 200);
    assert_eq!(meta["sha256"], v1["sha256"]);

    // Unknown versions and designs are 404s, not 500s.
    assert_error(
        &app.get(&format!("/designs/{id}/versions/2")).await,
        404,
        "design_version_not_found",
        None,
    );
    let resp = download(&app, &id, 2).await;
    assert_error(
        &common::split(resp).await,
        404,
        "design_version_not_found",
        None,
    );
    let other = uuid::Uuid::new_v4().to_string();
    assert_error(
        &app.get(&format!("/designs/{other}/versions/1")).await,
        404,
        "design_not_found",
        None,
    );
}

#[tokio::test]
async fn a_model_store_that_cannot_write_fails_the_save_and_records_it() {
    let app = spawn_app().await;
    let product = app.product_of_shape("cylinder").await;
    let design = app.create_design(&product["id"]).await;
    let id = id_of(&design);
    // A file where the store directory should be: every write fails.
    let _ = std::fs::remove_dir_all(&app.store_dir);
    std::fs::write(&app.store_dir, b"not a directory").unwrap();
    let got = app.save(&id).await;
    assert_error(&got, 500, "model_store_failed", None);
    let (_, saves) = app.get(&format!("/designs/{id}/saves")).await;
    assert_eq!(saves[0]["outcome"], "failed");
    assert!(
        saves[0]["reason"]
            .as_str()
            .unwrap()
            .contains("could not be stored"),
        "{saves}"
    );
    let (_, versions) = app.get(&format!("/designs/{id}/versions")).await;
    assert_eq!(versions, json!([]));
    // Once the store is back, the next save gets version 1 (no number was burnt).
    std::fs::remove_file(&app.store_dir).unwrap();
    let (status, version) = app.save(&id).await;
    assert_eq!(status, 201, "{version}");
    assert_eq!(version["version"], 1);
}
