#!/usr/bin/env bash
# One prepared GPU check for a lent CUDA machine (see benchmarks/README.md).
# Runs the test suite with device="auto" resolving to CUDA, then the demo on
# the GPU, and writes logs to $OUT (or ./gpu_out). skorch is expected as a
# wheel in .whl/ (the GPU image lacks it); skmmae runs from the checkout.
set -uo pipefail
out=${OUT:-gpu_out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, sklearn, skorch, numpy, pandas; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'sklearn', sklearn.__version__, 'skorch', skorch.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
} 2>&1 | tee "$out/env.txt"
start=$SECONDS
python3 -m pytest -q -p no:cacheprovider -o addopts="" tests 2>&1 | tee "$out/tests.txt"
echo "tests wall: $((SECONDS - start)) s" | tee -a "$out/tests.txt"
start=$SECONDS
python3 -m skmmae.demo --device cuda 2>&1 | tee "$out/demo.txt"
echo "demo wall: $((SECONDS - start)) s" | tee -a "$out/demo.txt"
