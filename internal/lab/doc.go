// Package lab runs a fleet of lab hosts on this machine for tests and demos: real OpenSSH servers,
// each in its own mount+uts+pid namespace on an overlay of one Debian image, with stand-ins for
// GRUB, NVIDIA kernels, power control and DGX Spark software (see README.md), and fault hooks.
package lab
