"""Safe version changes of a model: which version a submission gets while a
rollout shifts traffic, how a strategy moves the candidate's share, and the
guardrails that roll a misbehaving candidate back. Pure logic: no servers."""
