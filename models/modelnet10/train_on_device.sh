#!/usr/bin/env bash
# One prepared device run (issue 33): train PointNet, PointNet++ SSG and DGCNN on the
# ModelNet10 train split (20 % of each class carved out for validation, seed 0) side by
# side on one GPU, run tests/test_cuda.py meanwhile, then the architecture benchmark.
# Usage: bash models/modelnet10/train_on_device.sh OUT DEVICE TRAIN_SECONDS [extra train options]
# (run as: bash .gpu/run.sh $OUT cuda 430, with a copy of the data and a trimesh wheel
# under .gpu/, an ignored folder carried to the device machine)
set -u
OUT=${1:?}; DEVICE=${2:?}; SECS=${3:?}; shift 3
export TQDM_MININTERVAL=5 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4 FLOWAM_CACHE_DIR=/tmp/flowam-cache
if [ "$DEVICE" = cuda ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=$PWD/src:/tmp/site
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  PY=python3
else
  PY=.venv/bin/python
fi
FLOWAM="$PY -c 'import sys; from flowam.cli import main; sys.argv[0] = \"flowam\"; main()'"
RUNS=/tmp/runs; mkdir -p $RUNS
date -u +%FT%TZ > "$OUT/run.log"
$PY -c "import torch, flowam; print('torch', torch.__version__, torch.cuda.is_available())" >> "$OUT/run.log" 2>&1
common="--data .gpu/modelnet10_hdf5_1024 --validation 0.2 --validation-seed 0 --num-points 1024 \
 --batch-size 32 --eval-batch-size 64 --step-size 6 --gamma 0.6 --seed 0 --device $DEVICE"
for arch in pointnet pointnet2_ssg dgcnn; do
  eval "timeout -s INT $SECS $FLOWAM train --model $arch $common --epochs 60 --out $RUNS/modelnet10-$arch $*" \
    > "$OUT/train-$arch.txt" 2>&1 &
done
sleep 20
timeout 240 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py > "$OUT/test_cuda.txt" 2>&1
echo "test_cuda rc=$?" >> "$OUT/run.log"
wait
date -u +%FT%TZ >> "$OUT/run.log"
for arch in pointnet pointnet2_ssg dgcnn; do
  tail -n 3 $RUNS/modelnet10-$arch/train.log >> "$OUT/run.log" 2>&1
  tar -C $RUNS -cf "$OUT/modelnet10-$arch.tar" --exclude last.pt modelnet10-$arch
done
if [ "$DEVICE" = cuda ]; then
  timeout 80 $PY benchmarks/arch_speed.py --device cuda --classes 8 --steps 8 --rounds 2 > "$OUT/bench.txt" 2>&1
  echo "bench rc=$?" >> "$OUT/run.log"
fi
date -u +%FT%TZ >> "$OUT/run.log"
