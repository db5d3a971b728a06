"""The main job runs end to end (tiny settings; `make demo` runs the real one)."""

from skmmae.demo import main


def test_demo_prints_table_for_each_dim_and_method(capsys):
    rows = main(["--dims", "2", "4", "--max-epochs", "2", "--n-samples", "200", "--cv", "2", "--quiet"])
    assert [(r["method"].split()[0], r["dim"]) for r in rows] == [
        ("MultimodalAutoencoder", 2), ("PCA", 2), ("MultimodalAutoencoder", 4), ("PCA", 4),
    ]
    assert all(0 <= r["accuracy"] <= 1 and r["recon_mse"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "test accuracy" in out and "PCA (concatenated views)" in out
