#!/usr/bin/env bash
# One prepared GPU check for a lent CUDA machine (see benchmarks/README.md).
#
# Stages, each with its own time limit so that one slow stage cannot eat the
# others; each writes its log to $OUT (or ./gpu_out) as it goes:
#   env        the GPU and the versions
#   tests      the whole suite with device="auto" resolving to CUDA
#              (in parallel with pytest-xdist where the image has it)
#   bench_256  bench_speed.py at batch 256, without the eager rows that take
#              most of its time ((b), c-off, c+fused_optimizer, c+bf16; all
#              run at 4096), without memory
#   bench_4096 bench_speed.py at batch 4096, with the memory rows
#   profile    where the host time of a graph-replayed fit goes (cProfile),
#              and the kernels of eager steps (torch.profiler)
#   bench_256_tf32  batch 256 with TF32 GEMMs, only with GPU_CHECK_TF32=1
#   demo       the demo on the GPU, only with GPU_CHECK_DEMO=1
# skorch is expected as a wheel in .whl/ (the GPU image lacks it); skmmae
# runs from the checkout.
set -uo pipefail
out=${OUT:-gpu_out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi

stage() {  # stage NAME SECONDS COMMAND...
  local name=$1 limit=$2 start=$SECONDS
  shift 2
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt"
  echo "== $name: rc ${PIPESTATUS[0]}, $((SECONDS - start)) s (limit $limit s)" | tee -a "$out/$name.txt"
}

stage env 30 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
  python3 -c \"import torch, sklearn, skorch, numpy, pandas; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'sklearn', sklearn.__version__, 'skorch', skorch.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)\""

parallel=()
python3 -c "import xdist" 2>/dev/null && parallel=(-n "${GPU_CHECK_WORKERS:-12}")
# -v names each test as it ends, so failures show even if the stage is cut.
stage tests "${GPU_CHECK_TESTS_S:-150}" python3 -m pytest -v -p no:cacheprovider -p no:benchmark -o addopts="" --tb=short "${parallel[@]}" tests

# GPU_CHECK_BENCH_ARGS (e.g. "--repeats 2 --skip b,c+bf16") shortens both runs.
bench=(python3 benchmarks/bench_speed.py --device cuda --repeats 3 --epochs 3)
read -r -a extra <<< "${GPU_CHECK_BENCH_ARGS:-}"
stage bench_256 "${GPU_CHECK_BENCH_S:-160}" "${bench[@]}" --batch-sizes 256 --skip b,c-off,c+fused_optimizer,c+bf16 --skip-memory "${extra[@]}" --json "$out/cuda_256.json"
stage bench_4096 "${GPU_CHECK_BENCH_S:-160}" "${bench[@]}" --batch-sizes 4096 "${extra[@]}" --json "$out/cuda_4096.json"
stage profile 60 python3 benchmarks/profile_fit.py --device cuda --batch-size 256 --kernels --top 25

# GPU_CHECK_TF32=1: batch 256 again with TF32 GEMMs allowed on every side
# (the kernel profile says batch 256 is bound by float32 GEMM time).
if [ "${GPU_CHECK_TF32:-0}" = 1 ]; then
  stage bench_256_tf32 "${GPU_CHECK_BENCH_S:-160}" "${bench[@]}" --batch-sizes 256 --skip b,c-off,c+fused_optimizer,c+bf16,c+reg,c+defaults --skip-memory --matmul-precision high "${extra[@]}"
fi

if [ "${GPU_CHECK_DEMO:-0}" = 1 ]; then
  stage demo 120 python3 -m skmmae.demo --device cuda
fi
