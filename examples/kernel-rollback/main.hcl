# Kernel rollback, declaratively: DGX OS's 7.0 line (hwe) breaks two-node RoCE, so pin 6.17.
# To roll back, change one line and apply: sparkform plans the downgrade with a reboot, tries
# the old kernel once, and makes it the default only when each host came back on it.
#
#   sparkform plan .   # ~ kernel.nvidia: 7.0.0-1019-nvidia → 6.17.0-1014-nvidia (reboot required)
#   sparkform apply .
#
# Or return to an earlier generation recorded in state: sparkform history; sparkform rollback -to N

kernel "nvidia" {
  line = "6.17" # was "hwe"
  hold = true   # apt-mark hold + a pin that blocks the other lines, so an update cannot move it
}
