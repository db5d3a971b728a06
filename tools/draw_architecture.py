"""Draw docs/architecture.svg: the layers of skmmae, each a row of modules.

Run ``python tools/draw_architecture.py`` after changing a layer; the
output is deterministic (plain SVG, no dependencies).
"""

import pathlib
from xml.sax.saxutils import escape

#: Top to bottom: (layer title, [(module, what it holds)]).
LAYERS = [
    ("sklearn estimator, and keeping a fitted one", [
        ("autoencoder.py", "MultimodalAutoencoder: fit / transform / predict"),
        ("persistence.py", "save / load, no pickle"),
        ("export.py", "ONNX"),
        ("imputation.py", "missing cells filled"),
    ]),
    ("parameters and post-fit components", [
        ("options.py", "option objects"),
        ("_config.py", "every rule, once"),
        ("readout.py", "readout_"),
        ("refine.py", "CodeRefinement"),
    ]),
    ("steps of fit and of inference", [
        ("_fitting.py", "fit, step by step"),
        ("_fitted_input.py", "X as fitted reads it"),
        ("_inference.py", "eval-mode passes"),
        ("_build.py", "net + callbacks"),
    ]),
    ("skorch (documented seams only)", [
        ("_net.py", "MultimodalNet"),
        ("_data.py", "whole-batch data"),
        ("_loss_terms.py", "losses per epoch"),
        ("_cuda_graphs.py", "graphs (callback)"),
    ]),
    ("torch", [
        ("_module.py", "encoders, fusion, decoders"),
        ("_loss.py", "the masked loss"),
        ("fusion.py", "mean, concat, poe, moe"),
        ("modalities/", "one class per kind"),
    ]),
    ("data forms and values", [
        ("_validation.py", "input forms"),
        ("_output_forms.py", "forms given back"),
        ("_values.py", "value checks"),
        ("datasets/", "shipped data"),
    ]),
]

WIDTH, ROW, BOX_H, GAP, MARGIN = 900, 92, 52, 14, 20


def svg():
    height = MARGIN * 2 + ROW * len(LAYERS)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
        '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="5" refY="8" '
        'orient="auto"><path d="M0,0 L10,0 L5,9 z" fill="#555"/></marker></defs>',
    ]
    for row, (title, modules) in enumerate(LAYERS):
        top = MARGIN + row * ROW
        parts.append(f'<text x="{MARGIN}" y="{top + 12}" font-size="12" fill="#555">'
                     f'{escape(title)}</text>')
        box_w = (WIDTH - 2 * MARGIN - GAP * (len(modules) - 1)) / len(modules)
        for i, (module, what) in enumerate(modules):
            x = MARGIN + i * (box_w + GAP)
            parts.append(f'<rect x="{x:.0f}" y="{top + 18}" width="{box_w:.0f}" '
                         f'height="{BOX_H}" rx="6" fill="#eef3fb" stroke="#4a6fa5"/>')
            center = x + box_w / 2
            parts.append(f'<text x="{center:.0f}" y="{top + 40}" font-size="14" '
                         f'text-anchor="middle" font-family="monospace">{escape(module)}</text>')
            parts.append(f'<text x="{center:.0f}" y="{top + 60}" font-size="12" '
                         f'text-anchor="middle" fill="#333">{escape(what)}</text>')
        if row + 1 < len(LAYERS):
            y = top + 18 + BOX_H
            parts.append(f'<line x1="{WIDTH / 2:.0f}" y1="{y + 2}" x2="{WIDTH / 2:.0f}" '
                         f'y2="{y + ROW - BOX_H - 6}" stroke="#555" marker-end="url(#arrow)"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    out = pathlib.Path(__file__).resolve().parent.parent / "docs" / "architecture.svg"
    out.write_text(svg())
    print(f"wrote {out}")
