"""The scheduler: owns the Redis protocol of job queues (arrives with the execution issue)."""
