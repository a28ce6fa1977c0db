"""The sample dict: every key a dataset or transform reads or writes, with shapes, in one place.

A *sample* is a plain ``dict``. Datasets yield raw samples; transforms
``(sample, rng) -> sample`` add or replace keys; :func:`posecli.data.collate.collate` packs a
list of samples into a batch of tensors. Coordinates are pixel-centre based (pixel ``i`` covers
``[i-0.5, i+0.5]``); sizes are ``(w, h)``; N is the number of instances (1 in top-down
samples), K the number of keypoints.

From the dataset:

============================ ==================== ==========================================
key                          shape / type         meaning
============================ ==================== ==========================================
``img_path``                 str                  image file (or video file with ``frame_idx``)
``frame_idx``                int | None           frame of a video ``img_path``; None for images
``img_id``                   int                  image id (COCO ``image_id``)
``id``                       int | list[int]      instance id(s) (COCO annotation ``id``)
``category_id``              int                  category id (1 for people)
``ori_shape``                (h, w)               original image size, from the annotations
``bbox``                     (N, 4) float32       boxes ``x1, y1, x2, y2`` in image pixels
``bbox_score``               (N,) float32         box score (1 for ground truth)
``keypoints``                (N, K, 2) float32    keypoints in image pixels
``keypoints_visible``        (N, K) float32       ``min(1, v)`` of COCO ``v``; 0 = unlabelled
``num_keypoints``            int                  labelled keypoints of the instance(s)
``area``                     (N,) float32         instance area (COCO ``area``)
``iscrowd``                  (N,) int             crowd flags (bottom-up samples)
``track_id``                 (N,) int64           identity track, -1 if none
``flip_indices``             list[int] (K)        left/right partner of each keypoint
``upper_body_ids``           list[int]            keypoints of the upper body (half-body aug)
``lower_body_ids``           list[int]            keypoints of the lower body
``dataset_keypoint_weights`` (K,) float32         skeleton joint weights
``head_size`` / ``box_size`` float                normaliser of PCKh / NME, where the format
                                                  has one (Panoptic hands, MPII; AFLW)
``hand_type``                float                InterHand2.6M: right 0, left 1, both 2
``dataset_name``             str                  source of a ``combined`` dataset's sample
============================ ==================== ==========================================

Added by transforms:

============================ ==================== ==========================================
``img``                      (H, W, 3) uint8      BGR image (LoadImage; TopdownAffine: the crop).
                                                  Before TopdownAffine it may be read-only
                                                  (cached), and a grayscale PNG is a view of
                                                  one plane with channel stride 0
                                                  (``posecli.data.io.gray_plane``); the crop
                                                  is always a new contiguous array
``img_shape``                (h, w)               current image size
``img_pending``              (2, 3) float64       affine not yet applied to ``img`` (a lazy flip:
                                                  RandomFlip records it, TopdownAffine folds it
                                                  into its single warp); absent if none
``bbox_center``              (N, 2) float32       box centre (GetBBoxCenterScale)
``bbox_scale``               (N, 2) float32       box size ``(w, h)`` × padding
``bbox_rotation``            (N,) float32         degrees, counter-clockwise (RandomBBoxTransform)
``flip`` / ``flip_direction`` bool / str          RandomFlip's decision
``input_size``               (w, h)               model input size (TopdownAffine)
``input_center``             (2,) float32         centre used by the warp (image pixels)
``input_scale``              (2,) float32         aspect-fixed box size used by the warp
``warp_mat``                 (2, 3) float32       image → input affine actually applied
``transformed_keypoints``    (N, K, 2) float32    keypoints in input space
codec keys                   see the codec        ``heatmaps (K,H,W)``, ``keypoint_weights
                                                  (N,K)``, ``keypoint_x_labels (N,K,Wx)``...
============================ ==================== ==========================================
"""

from __future__ import annotations

#: Keys whose arrays carry a leading instance dimension N (squeezed by collate in top-down).
INSTANCE_KEYS: frozenset[str] = frozenset(
    {
        "bbox",
        "bbox_score",
        "bbox_center",
        "bbox_scale",
        "bbox_rotation",
        "keypoints",
        "keypoints_visible",
        "transformed_keypoints",
        "area",
        "track_id",
        "keypoint_weights",
        "bboxes",
        "labels",
        "areas",
        "keypoint_x_labels",
        "keypoint_y_labels",
        "keypoint_labels",
        "keypoint_x_weights",
        "keypoint_y_weights",
        "keypoints_visible_weights",
        "instance_coords",
    }
)

#: Codec output keys with no instance dimension (one map per keypoint of the whole image).
IMAGE_TARGET_KEYS: frozenset[str] = frozenset(
    {"heatmaps", "heatmap_weights", "displacements", "displacement_weights", "instance_heatmaps"}
)

#: Per-sample values collected into ``batch["meta"]`` (when present).
META_KEYS: tuple[str, ...] = (
    "img_path",
    "frame_idx",
    "id",
    "img_id",
    "category_id",
    "ori_shape",
    "img_shape",
    "input_size",
    "flip",
    "flip_direction",
    "flip_indices",
    "num_keypoints",
    "iscrowd",
    "head_size",
    "box_size",
    "hand_type",
    "dataset_name",
)

__all__ = ["IMAGE_TARGET_KEYS", "INSTANCE_KEYS", "META_KEYS"]
