//! Adversarial tests: params.
