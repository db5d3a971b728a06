"""The main job runs end to end (tiny settings; `make demo` runs the real one)."""

from skmmae.demo import main


def test_demo_prints_table_for_each_dim_and_method(capsys):
    rows = main(["--dims", "2", "4", "--max-epochs", "2", "--n-samples", "200", "--cv", "2",
                 "--quiet", "--figure", ""])
    assert [(r["method"].split()[0], r["dim"]) for r in rows] == [
        ("MultimodalAutoencoder", 2), ("PCA", 2), ("MultimodalAutoencoder", 4), ("PCA", 4),
    ]
    assert all(0 <= r["accuracy"] <= 1 and r["recon_mse"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "test accuracy" in out and "PCA (concatenated views)" in out


def test_demo_writes_its_figure_and_prints_its_path(tmp_path, capsys):
    import matplotlib.image

    path = tmp_path / "demo.png"
    main(["--dims", "2", "--max-epochs", "1", "--n-samples", "200", "--cv", "2", "--quiet",
          "--figure", str(path)])
    assert f"figure: {path}" in capsys.readouterr().out
    picture = matplotlib.image.imread(path)
    assert picture.shape[:2] == (500, 1200)  # 12 x 5 inches at 100 dpi
    assert picture[..., :3].std() > 0.05  # something is drawn
