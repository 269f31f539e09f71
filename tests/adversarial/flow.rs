//! Adversarial tests: flow.
