//! Adversarial tests: replay.
