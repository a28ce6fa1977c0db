"""posecli's data layer: skeletons, dataset formats, the top-down pipeline, collation, loaders,
and dataset conversion. Heavy modules (torch) load only when used."""

from posecli.data.metainfo import Skeleton, infer_skeleton, load_skeleton

__all__ = ["Skeleton", "infer_skeleton", "load_skeleton"]
