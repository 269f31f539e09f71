//! Adversarial tests: routing.
