"""Workers: pull jobs from the Redis queues and run them through model backends."""
