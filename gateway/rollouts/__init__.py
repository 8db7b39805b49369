"""RolloutService: rollouts of a model's versions, their controller, SQL and messages."""
