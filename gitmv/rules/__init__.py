"""Decisions, in one place: the client, the server hook and `verify` call these and nothing else
decides. Each module owns one family of rules:

- `gate`       metric criteria (thresholds, beat-or-match overall and per protected slice)
- `promotion`  may a version enter a stage (promotion and rollback verdicts over a registry view)
- `view`       the registry view those verdicts ask (a typing Protocol the `Registry` satisfies)
- `evidence`   which eval counts: valid (finite, non-empty metrics) and newest by notes-history position
- `refs`       the registry's ref namespace and name grammar, on bytes; hook input and listing framing
- `rollout`    the traffic shares stage records of rollout stages carry (R8)
- `soak`       the canary soak: a version's unbroken hold of a share, timed by the stage tags
"""
