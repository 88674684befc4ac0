"""Application services: intake processing, projection, case lifecycle, sweeps."""
