"""The scheduler: owns the Redis protocol of job queues."""
