//! Adversarial tests: redis.
