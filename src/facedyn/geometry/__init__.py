"""Head pose, pose-free expression, and retargeting onto the source face."""
