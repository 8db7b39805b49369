"""Workers: pull jobs from the Redis queues and run model backends (arrives with the execution issue)."""
