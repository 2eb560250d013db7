#!/usr/bin/env bash
# The git mv-promote demo: a real scikit-learn model in a throwaway repository, the whole loop.
#   register -> eval -> check (a pass, and a slice regression refused) -> signed request -> signed
#   review (approve commit, signed merge)
#   -> promote -> a push refused by the server hook -> rollback.
# It touches nothing outside a temporary directory: its own git config, ssh keys, server and clones.
# Usage: bash scripts/demo.sh [--keep]    (needs: pip install -e '.[examples]')
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
example="$here/examples/churn"
demo=$(mktemp -d "${TMPDIR:-/tmp}/mv-promote-demo.XXXXXX")
[ "${1:-}" = "--keep" ] || trap 'rm -rf "$demo"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# A private git world: no system or user config, fixed identities, real ssh signing keys.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$demo/gitconfig" GIT_TERMINAL_PROMPT=0
ssh-keygen -q -t ed25519 -N '' -C ada@example.com -f "$demo/ada"
ssh-keygen -q -t ed25519 -N '' -C grace@example.com -f "$demo/grace"
git config --global init.defaultBranch main
git config --global user.name "Ada (ML engineer)"
git config --global user.email ada@example.com
git config --global gpg.format ssh
git config --global user.signingkey "$demo/ada"
git config --global advice.detachedHead false

step "A shared Git host: a bare repository with the server-side hook"
git init -q --bare "$demo/server.git"
run git mv-promote hooks install --server "$demo/server.git"

step "Ada's clone: the example model and a policy"
git clone -q "$demo/server.git" "$demo/ada-clone" 2>/dev/null
cd "$demo/ada-clone"
cp "$example"/{prepare.py,train.py,eval.py} .
cp "$example/variants/v1.params.yaml" params.yaml
python3 prepare.py >/dev/null
run git mv-promote init --model churn --artifact model.bin --add-signer
python3 - <<'EOF'
import re, pathlib
p = pathlib.Path(".mv-promote.toml")
s = p.read_text()
s = s.replace('# params = "params.yaml"', 'params = "params.yaml"')
s = s.replace('metrics = { auc = "max" }', 'metrics = { auc = "max", latency_ms = "min" }')
s = s.replace('thresholds = { auc = 0.80 }', 'thresholds = { auc = 0.95 }')
s = s.replace('max_regression = { auc = 0.0 }', 'max_regression = { auc = 0.0, latency_ms = 0.1 }')
s = s.replace('protected_slices = []', 'protected_slices = ["region=eu"]')
s = s.replace('approvals = 0 ', 'approvals = 1 ')
p.write_text(s)
EOF
# Grace reviews: her key is an allowed signer from the first push (the bootstrap), because the
# server accepts changes to promotions/** on main only as merges signed by a reviewer
echo "grace@example.com namespaces=\"git\" $(cut -d' ' -f1,2 "$demo/grace.pub")" >> .mv-promote/allowed_signers
git add -A && git commit -qm "Churn model, its data and the mv-promote policy"
git push -q origin main
sed -n '/\[models.churn.gate\]/,$p' .mv-promote.toml

train() {  # train variant $1, commit the model it makes
  cp "$example/variants/$1.params.yaml" params.yaml
  python3 train.py >/dev/null
  git add -A && git commit -qm "Train churn with the $1 parameters"
}

step "v1: register (signed tag), eval (TOML note), promote to staging"
train v1
run git mv-promote register churn -m "baseline logistic regression"
run git mv-promote eval churn v1
run git mv-promote promote churn v1 --stage staging
run git -c gpg.ssh.allowedSignersFile=.mv-promote/allowed_signers verify-tag mv/churn/v1

step "v1 into production: request (signed) -> Grace approves (signed) -> Ada merges -> promote"
run git mv-promote request churn v1 --stage production --push -m "first production model"
git clone -q "$demo/server.git" "$demo/grace-clone" 2>/dev/null
(
  cd "$demo/grace-clone"
  git config user.name Grace && git config user.email grace@example.com
  git config user.signingkey "$demo/grace"
  run git mv-promote approve churn v1 --stage production -m "metrics and slices look right" --push
)
git fetch -q origin
git merge -q -S --no-ff origin/mv-promote/churn/v1-production -m "Merge pull request #1 from mv-promote/churn/v1-production"
git push -q origin main
git pull -q --no-rebase origin main
run git mv-promote promote churn v1 --stage production -m "approved in PR #1"
run git mv-promote sync

step "v2: better overall, worse on region=eu -> the gate refuses"
train v2
run git mv-promote register churn -m "drop eu rows from training"
run git mv-promote eval churn v2
run git mv-promote check churn v2 --stage production || echo "(exit $?: refused, as it should be)"

step "v3: better everywhere -> request, Grace merges with a signed merge commit, promote"
train v3
run git mv-promote register churn -m "stronger L1 regularisation"
run git mv-promote eval churn v3
run git mv-promote diff churn v1 v3
run git mv-promote request churn v3 --stage production --push -m "better on every slice"
(
  cd "$demo/grace-clone"
  git fetch -q origin
  git checkout -q main && git pull -q --no-rebase origin main
  run git merge -q -S --no-ff origin/mv-promote/churn/v3-production \
    -m "Merge pull request #2 from mv-promote/churn/v3-production"
  git push -q origin main
)
git pull -q --no-rebase origin main
run git mv-promote promote churn v3 --stage production -m "approved in PR #2"
run git mv-promote sync

step "A push the server refuses: deleting the production tag (even with --no-verify)"
if run git push --no-verify origin :refs/tags/mv/churn/production/2; then
  echo "UNEXPECTED: the server accepted the deletion" >&2; exit 1
fi

step "Rollback: a new signed stage tag returns production to v1"
run git mv-promote rollback churn --stage production --dry-run
run git mv-promote rollback churn --stage production -m "v3 misbehaves on live traffic"
run git mv-promote sync

step "The registry, its history and its audit trail"
run git mv-promote show
run git mv-promote show churn
run git mv-promote history churn
run git mv-promote log churn
run git mv-promote verify

step "The periodic audit: every production entry re-judged as of its time, the rollback path rehearsed"
run git mv-promote audit
printf '\nDemo complete. Registry in %s%s\n' "$demo/ada-clone" "$([ "${1:-}" = "--keep" ] || echo ' (removed on exit; pass --keep to keep it)')"
