#!/usr/bin/env bash
# LLaMA-Factory 0.9.5 in its own virtualenv, for tests/llamafactory: created when missing, then reused.
# Outside the clone by default (LOSSWATCH_LLAMAFACTORY_VENV), so a fresh clone or CI run finds it made.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LOSSWATCH_LLAMAFACTORY_VENV:-$HOME/.cache/losswatch/venv-llamafactory-0.9.5}
STAMP="$VENV/.losswatch-ready"
KEY=$(cat scripts/llamafactory-venv.sh scripts/llamafactory-requirements.txt tests/llamafactory/stub/torchaudio/__init__.py | sha256sum | cut -c1-16)
mkdir -p "$(dirname "$VENV")"
# Two clones' `make test` at once share this venv: the second waits for the first instead of deleting the
# venv under it (a half-made venv failed pip with a TypeError).
exec 9>"$VENV.lock"
flock 9
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ]; then
  echo "llamafactory venv: ok ($VENV)"
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
PY="$VENV/bin/python"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
echo "torch==2.13.0" > "$constraints"
# torch first: the CPU wheel on disk; otherwise LLaMA-Factory's requirements pull a CUDA build.
"$PY" -m pip install -q torch==2.13.0
"$PY" -m pip install -q -r scripts/llamafactory-requirements.txt -c "$constraints"
"$PY" -m pip install -q --no-deps llamafactory==0.9.5
site=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cp -r tests/llamafactory/stub/torchaudio "$site/"
"$PY" -c "from llamafactory.train.tuner import run_exp" >/dev/null
echo "$KEY" > "$STAMP"
echo "llamafactory venv: made ($VENV)"
