//! Adversarial tests: signature.
