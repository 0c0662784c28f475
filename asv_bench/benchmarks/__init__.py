"""asv benchmarks: each suite times sketchla beside its peers through an ``impl`` parameter."""
