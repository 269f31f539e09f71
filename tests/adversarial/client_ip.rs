//! Adversarial tests: client_ip.
