//! Kernel catalog: `kernels/kernels.yaml`, the lock file, downloads and extraction.
