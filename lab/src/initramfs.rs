//! newc cpio initramfs writer.
