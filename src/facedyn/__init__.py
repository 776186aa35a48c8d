"""facedyn: animate one face photo from 3D facial dynamics, on a CPU, offline."""
