"""Drawing poses, heatmaps, SimCC profiles and regression uncertainties (numpy + OpenCV)."""
