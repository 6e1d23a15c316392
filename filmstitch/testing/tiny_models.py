"""Pipelines assembled in code, with random weights: tiny ones for CPU tests, full-size ones for benchmarks.

Test and benchmark scaffolding: the product never imports this module.

Nothing here downloads anything. Tokenizers are word-level over a small vocabulary (``tokenizers``'
``WordLevel`` wrapped in ``PreTrainedTokenizerFast``): unknown words map to ``[UNK]``, which is all a
random-weight model needs. The *architectures* of the full-size builders are FLUX.1-dev's (12B
transformer, T5-XXL, CLIP-L, 16-channel VAE), FLUX.1-Redux-dev's (SigLIP so400m + the Redux embedder),
FLUX.2 [klein] 4B's (4B transformer, Qwen3-4B, the FLUX.2 VAE) and LTX-Video 0.9.5's (2B transformer,
0.9.5 VAE), so the compute and memory they take are the real models'; the weights are random, so the
pictures are noise. :func:`save_pipelines` writes any of them in the diffusers layout of
:mod:`filmstitch.engines.weights`, for the engines' real loading code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLFlux2,
    AutoencoderKLLTX2Audio,
    AutoencoderKLLTX2Video,
    AutoencoderKLLTXVideo,
    FlowMatchEulerDiscreteScheduler,
    Flux2KleinPipeline,
    Flux2Transformer2DModel,
    FluxFillPipeline,
    FluxKontextPipeline,
    FluxPipeline,
    FluxPriorReduxPipeline,
    FluxTransformer2DModel,
    LTX2ConditionPipeline,
    LTX2VideoTransformer3DModel,
    LTXConditionPipeline,
    LTXVideoTransformer3DModel,
)
from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
from diffusers.pipelines.ltx2 import LTX2TextConnectors
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPVisionConfig,
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3TextConfig,
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3ForCausalLM,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
    T5Config,
    T5EncoderModel,
)

WORDS = ["a", "an", "the", "of", "in", "on", "at", "with", "and", "to", "from", "under", "over", "through", "into",
         "near", "her", "his", "their", "astronaut", "moon", "garden", "flower", "crater", "helmet", "suit", "robot",
         "girl", "boy", "woman", "man", "dog", "cat", "city", "forest", "river", "sea", "sky", "night", "day", "dawn",
         "dusk", "light", "dark", "red", "blue", "green", "gold", "silver", "white", "black", "warm", "cold", "soft",
         "bright", "walks", "runs", "looks", "stands", "kneels", "sits", "reaches", "waves", "smiles", "discovers",
         "finds", "opens", "holds", "wide", "medium", "close", "shot", "camera", "cinematic", "film", "still",
         "portrait", "reference", "sheet", "environment", "worst", "quality", "inconsistent", "motion", "blurry",
         "jittery", "distorted"]
SPECIAL = ("[PAD]", "[EOS]", "[UNK]")


#: What Flux2KleinPipeline's tokenizer.apply_chat_template needs: the user's message, as plain text.
CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"


def word_tokenizer(max_length: int, vocab_size: int | None = None, chat: bool = False) -> PreTrainedTokenizerFast:
    """A lower-casing whitespace tokenizer over :data:`WORDS` that appends ``[EOS]`` (ids: PAD 0, EOS 1, UNK 2)."""
    vocab = {token: i for i, token in enumerate((*SPECIAL, *WORDS))}
    if vocab_size is not None and len(vocab) > vocab_size:
        raise ValueError(f"vocabulary of {len(vocab)} words does not fit vocab_size {vocab_size}")
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[("[EOS]", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", eos_token="[EOS]", unk_token="[UNK]", model_max_length=max_length
    )
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


@contextlib.contextmanager
def building_on(device: str | torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Create modules' parameters directly on ``device`` in ``dtype`` (a 12B model never touches host memory)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)


def _frozen(module: torch.nn.Module) -> torch.nn.Module:
    return module.eval().requires_grad_(False)


# ---------------------------------------------------------------- CLIP-L parts (shared by FLUX and references)


def clip_text_config(hidden: int, layers: int, heads: int, intermediate: int, projection: int,
                     vocab: int) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=77,
        projection_dim=projection,
        hidden_act="quick_gelu",
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=1,
    )


def tiny_clip_model(seed: int = 0) -> CLIPModel:
    """A tiny CLIP with both towers and projections (text hidden 32, vision hidden 24, joint space 16)."""
    torch.manual_seed(seed)
    text = clip_text_config(hidden=32, layers=2, heads=4, intermediate=37, projection=16,
                            vocab=len(SPECIAL) + len(WORDS))
    vision = CLIPVisionConfig(
        hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        image_size=32, patch_size=8, projection_dim=16,
    )
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)
    return _frozen(CLIPModel(config))


def tiny_clip_processor() -> CLIPImageProcessor:
    return CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})


def save_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """Write a tiny CLIP (model.safetensors with both projections, preprocessor config) like clip-vit-large-patch14."""
    tiny_clip_model(seed).save_pretrained(directory)
    tiny_clip_processor().save_pretrained(directory)
    return directory


# ---------------------------------------------------------------- FLUX


def tiny_t5() -> T5EncoderModel:
    """A 2-layer, 32-wide T5 encoder over the tiny vocabulary (the T5-XXL of the tiny pipelines)."""
    return _frozen(T5EncoderModel(T5Config(
        vocab_size=len(SPECIAL) + len(WORDS), d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )))


def tiny_flux_pipeline(seed: int = 0) -> FluxPipeline:
    """FLUX pipeline with 1+1 transformer blocks and 32-wide encoders: a 32x32 image in milliseconds on a CPU.

    The CLIP text tower is the tiny CLIP's (same seed), so its pooler space matches ``text_projection``
    saved by :func:`save_tiny_clip`, as FLUX.1-dev's text encoder matches clip-vit-large-patch14.
    """
    clip = tiny_clip_model(seed)
    text_encoder = _frozen(CLIPTextModel(clip.config.text_config))
    # transformers 5 flattens CLIPTextModel (no `.text_model`); 4.x nests it.
    getattr(text_encoder, "text_model", text_encoder).load_state_dict(clip.text_model.state_dict())
    torch.manual_seed(seed + 1)
    t5 = tiny_t5()
    transformer = _frozen(FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),
    ))
    vae = _frozen(AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4, use_quant_conv=False, use_post_quant_conv=False, sample_size=32,
        scaling_factor=0.3611, shift_factor=0.1159,
    ))
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=word_tokenizer(77),
        text_encoder_2=t5,
        tokenizer_2=word_tokenizer(512),
        transformer=transformer,
    )


def tiny_kontext_pipeline(seed: int = 0) -> FluxKontextPipeline:
    """FLUX.1 Kontext with the tiny FLUX pipeline's parts: Kontext is FLUX's transformer reading the edited
    picture's tokens after the image's, so the same architecture serves."""
    parts = tiny_flux_pipeline(seed).components
    return FluxKontextPipeline(**{name: parts[name] for name in (
        "scheduler", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2", "transformer")})


def tiny_fill_pipeline(seed: int = 0) -> FluxFillPipeline:
    """FLUX.1 Fill with the tiny FLUX pipeline's encoders and VAE. Fill's transformer reads the noisy latents,
    the masked picture's latents and the mask side by side: 16 + 16 + 16 packed channels in (the real one:
    64 + 64 + 256), 16 out."""
    parts = tiny_flux_pipeline(seed).components
    torch.manual_seed(seed + 2)
    transformer = _frozen(FluxTransformer2DModel(
        patch_size=1, in_channels=48, out_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),
    ))
    return FluxFillPipeline(transformer=transformer, **{name: parts[name] for name in (
        "scheduler", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2")})


def full_flux_pipeline(device: str | torch.device = "cuda", dtype: torch.dtype = torch.bfloat16) -> FluxPipeline:
    """FLUX.1-dev's architecture (11.9B transformer, 4.8B T5-XXL, CLIP-L, VAE) with random weights on ``device``."""
    with building_on(device, dtype):
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
            num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
            axes_dims_rope=(16, 56, 56),
        )
        t5 = T5EncoderModel(t5_xxl_config())
        text_encoder = CLIPTextModel(clip_text_config(768, 12, 12, 3072, 768, 49408))
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
            layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            norm_num_groups=32, use_quant_conv=False, use_post_quant_conv=False, sample_size=1024,
            scaling_factor=0.3611, shift_factor=0.1159,
        )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096,
    )
    return FluxPipeline(
        scheduler=scheduler,
        vae=_frozen(vae),
        text_encoder=_frozen(text_encoder),
        tokenizer=word_tokenizer(77, 49408),
        text_encoder_2=_frozen(t5),
        tokenizer_2=word_tokenizer(512, 32128),
        transformer=_frozen(transformer),
    )


def full_clip_model(device: str | torch.device = "cuda", dtype: torch.dtype = torch.bfloat16) -> CLIPModel:
    """clip-vit-large-patch14's architecture (both towers, 768-d joint space) with random weights."""
    text = clip_text_config(768, 12, 12, 3072, 768, 49408)
    vision = CLIPVisionConfig(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=224, patch_size=14, projection_dim=768, hidden_act="quick_gelu",
    )
    with building_on(device, dtype):
        model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=768))
    return _frozen(model)


def t5_xxl_config() -> T5Config:
    return T5Config(
        vocab_size=32128, d_model=4096, d_ff=10240, d_kv=64, num_layers=24, num_heads=64,
        relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
        is_gated_act=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )


# ---------------------------------------------------------------- LTX-Video


def tiny_ltx_pipeline(seed: int = 0) -> LTXConditionPipeline:
    """LTX condition pipeline with 1 transformer block and a small VAE that compresses 8x in space and time,
    as the real one does in time, so clips have 8k+1 frames and 32x32 frames give 4x4 latents."""
    torch.manual_seed(seed)
    t5 = tiny_t5()
    transformer = _frozen(LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32,
    ))
    vae = _frozen(AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    ))
    return LTXConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=t5,
        tokenizer=word_tokenizer(128),
        transformer=transformer,
    )


def full_ltx_pipeline(
    device: str | torch.device = "cuda", dtype: torch.dtype = torch.bfloat16, text_encoder: T5EncoderModel | None = None
) -> LTXConditionPipeline:
    """LTX-Video 0.9.5's architecture (1.9B transformer, 0.9.5 VAE, T5-XXL) with random weights on ``device``.

    Pass ``text_encoder`` to share one T5-XXL with a FLUX pipeline built in the same process.
    """
    with building_on(device, dtype):
        transformer = LTXVideoTransformer3DModel(
            in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32,
            attention_head_dim=64, cross_attention_dim=2048, num_layers=28, caption_channels=4096,
        )
        vae = AutoencoderKLLTXVideo(
            in_channels=3, out_channels=3, latent_channels=128, block_out_channels=(128, 256, 512, 1024, 2048),
            down_block_types=("LTXVideo095DownBlock3D",) * 4, decoder_block_out_channels=(256, 512, 1024),
            layers_per_block=(4, 6, 6, 2, 2), decoder_layers_per_block=(5, 5, 5, 5),
            spatio_temporal_scaling=(True, True, True, True), decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False, False, False, False),
            downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
            upsample_residual=(True, True, True), upsample_factor=(2, 2, 2), timestep_conditioning=True,
            patch_size=4, patch_size_t=1, resnet_norm_eps=1e-6, scaling_factor=1.0, encoder_causal=True,
            decoder_causal=False, spatial_compression_ratio=32, temporal_compression_ratio=8,
        )
        t5 = text_encoder if text_encoder is not None else T5EncoderModel(t5_xxl_config())
    return LTXConditionPipeline(
        # LTXConditionPipeline passes its own (linear-quadratic) timesteps, so no dynamic shifting.
        scheduler=FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False, shift_terminal=0.1),
        vae=_frozen(vae),
        text_encoder=_frozen(t5),
        tokenizer=word_tokenizer(128, 32128),
        transformer=_frozen(transformer),
    )


# ---------------------------------------------------------------- LTX-2


def tiny_gemma3(hidden: int = 32, layers: int = 2) -> Gemma3ForConditionalGeneration:
    """A 2-layer Gemma 3 (with a 1-layer SigLIP tower the LTX-2 pipeline never calls): LTX-2's text encoder."""
    text = Gemma3TextConfig(vocab_size=128, hidden_size=hidden, intermediate_size=32, num_hidden_layers=layers,
                            num_attention_heads=4, num_key_value_heads=1, head_dim=8, max_position_embeddings=512,
                            sliding_window=64)
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                image_size=32, patch_size=8)
    config = Gemma3Config(text_config=text.to_dict(), vision_config=vision.to_dict(), mm_tokens_per_image=4,
                          boi_token_index=3, eoi_token_index=4, image_token_index=5)
    return _frozen(Gemma3ForConditionalGeneration(config))


def tiny_ltx2_pipeline(seed: int = 0) -> LTX2ConditionPipeline:
    """LTX-2's condition pipeline with 2 transformer blocks (video and audio streams), a video VAE that compresses
    8x in space and time as the real one does in time (8k+1 frames; 32x32 frames give 4x4 latents), and an audio
    VAE + vocoder whose hop and upsampling match (16 samples a mel frame, 8 kHz), so a clip's waveform lasts as
    long as its frames, as the real model's does."""
    torch.manual_seed(seed)
    gemma = tiny_gemma3()
    hidden, layers = gemma.config.text_config.hidden_size, gemma.config.text_config.num_hidden_layers
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
        audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=2, qk_norm="rms_norm_across_heads",
        caption_channels=hidden, rope_double_precision=False, rope_type="split",
    )
    connectors = LTX2TextConnectors(
        caption_channels=hidden, text_proj_in_factor=layers + 1, video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8, video_connector_num_layers=1,
        video_connector_num_learnable_registers=None, audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None, connector_rope_base_seq_len=32, rope_theta=10000.0,
        rope_double_precision=False, causal_temporal_positioning=False, rope_type="split",
    )
    vae = AutoencoderKLLTX2Video(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8),
        down_block_types=("LTX2VideoDownBlock3D",) * 3, decoder_block_out_channels=(8, 8, 8),
        layers_per_block=(1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True), decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False,) * 4, downsample_type=("spatiotemporal",) * 3,
        upsample_type=("spatiotemporal",) * 3, upsample_residual=(False,) * 3, upsample_factor=(1,) * 3,
        timestep_conditioning=False, patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=8000, mel_hop_length=16, is_causal=True, mel_bins=8,
    )
    vocoder = LTX2Vocoder(
        in_channels=16, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[8, 8], upsample_factors=[4, 4],
        resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], leaky_relu_negative_slope=0.1,
        output_sampling_rate=8000,
    )
    return LTX2ConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=_frozen(vae), audio_vae=_frozen(audio_vae),
        text_encoder=gemma, tokenizer=word_tokenizer(256), connectors=_frozen(connectors),
        transformer=_frozen(transformer), vocoder=_frozen(vocoder),
    )


def gemma3_12b_config() -> Gemma3Config:
    """Gemma 3 12B (LTX-2's text encoder): 48 layers, hidden 3840, 16 heads (8 KV) of 256, SigLIP so400m."""
    text = Gemma3TextConfig(vocab_size=262208, hidden_size=3840, intermediate_size=15360, num_hidden_layers=48,
                            num_attention_heads=16, num_key_value_heads=8, head_dim=256, sliding_window=1024)
    vision = SiglipVisionConfig(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                                image_size=896, patch_size=14)
    return Gemma3Config(text_config=text.to_dict(), vision_config=vision.to_dict())


def full_ltx2_pipeline(
    device: str | torch.device = "cuda", dtype: torch.dtype = torch.bfloat16, text_encoder_device: str | None = None
) -> LTX2ConditionPipeline:
    """LTX-2's architecture with random weights: the diffusers classes' default configs (which are LTX-2 19B's:
    48 blocks, 32 heads of 128, the LTX-2 video and audio VAEs and vocoder) and Gemma 3 12B, built on ``device``
    (the text encoder on ``text_encoder_device``, e.g. "cpu" to offload it)."""
    with building_on(device, dtype):
        transformer = LTX2VideoTransformer3DModel()
        connectors = LTX2TextConnectors()
        vae = AutoencoderKLLTX2Video()
        audio_vae = AutoencoderKLLTX2Audio()
        vocoder = LTX2Vocoder()
    with building_on(text_encoder_device or device, dtype):
        gemma = Gemma3ForConditionalGeneration(gemma3_12b_config())
    return LTX2ConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=_frozen(vae), audio_vae=_frozen(audio_vae),
        text_encoder=_frozen(gemma), tokenizer=word_tokenizer(1024, 262208), connectors=_frozen(connectors),
        transformer=_frozen(transformer), vocoder=_frozen(vocoder),
    )


# ---------------------------------------------------------------- FLUX.1-Redux-dev


def tiny_redux_pipeline(seed: int = 0, text_dim: int = 32) -> FluxPriorReduxPipeline:
    """A Redux prior with a 2-layer SigLIP (32 px images, 8 px patches: a 4x4 token grid) whose embedder maps
    into the tiny FLUX pipeline's T5 width."""
    torch.manual_seed(seed)
    vision = SiglipVisionModel(SiglipVisionConfig(
        hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8,
    ))
    return FluxPriorReduxPipeline(
        image_encoder=_frozen(vision),
        feature_extractor=SiglipImageProcessor(size={"height": 32, "width": 32}),
        image_embedder=_frozen(ReduxImageEncoder(redux_dim=24, txt_in_features=text_dim)),
    )


def full_redux_pipeline(device: str | torch.device = "cuda",
                        dtype: torch.dtype = torch.bfloat16) -> FluxPriorReduxPipeline:
    """FLUX.1-Redux-dev's architecture: SigLIP so400m-patch14-384 (27x27 tokens of 1152) and the Redux embedder."""
    with building_on(device, dtype):
        vision = SiglipVisionModel(SiglipVisionConfig(
            hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
            image_size=384, patch_size=14,
        ))
        embedder = ReduxImageEncoder(redux_dim=1152, txt_in_features=4096)
    return FluxPriorReduxPipeline(
        image_encoder=_frozen(vision),
        feature_extractor=SiglipImageProcessor(size={"height": 384, "width": 384}),
        image_embedder=_frozen(embedder),
    )


# ---------------------------------------------------------------- FLUX.2 [klein] 4B


def qwen3_config(hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int, intermediate: int,
                 vocab: int) -> Qwen3Config:
    return Qwen3Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim, max_position_embeddings=40960,
        rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
    )


def flux2_scheduler() -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096,
    )


def tiny_flux2_klein_pipeline(seed: int = 0) -> Flux2KleinPipeline:
    """FLUX.2 [klein] with 1+1 transformer blocks, a 27-layer 16-wide Qwen3 (the pipeline reads hidden states
    9, 18 and 27) and a small FLUX.2 VAE: a 32x32 image with two references in well under a second."""
    torch.manual_seed(seed)
    text_encoder = Qwen3ForCausalLM(qwen3_config(16, 27, 2, 1, 8, 32, len(SPECIAL) + len(WORDS)))
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=48, timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False,
    )
    vae = AutoencoderKLFlux2(
        latent_channels=4, block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, norm_num_groups=4, sample_size=32,
    )
    return Flux2KleinPipeline(
        scheduler=flux2_scheduler(), vae=_frozen(vae), text_encoder=_frozen(text_encoder),
        tokenizer=word_tokenizer(512, chat=True), transformer=_frozen(transformer), is_distilled=True,
    )


def full_flux2_klein_pipeline(device: str | torch.device = "cuda",
                              dtype: torch.dtype = torch.bfloat16) -> Flux2KleinPipeline:
    """FLUX.2 [klein] 4B's architecture (its published transformer/config.json), Qwen3-4B and the FLUX.2 VAE."""
    with building_on(device, dtype):
        transformer = Flux2Transformer2DModel(
            patch_size=1, in_channels=128, num_layers=5, num_single_layers=20, attention_head_dim=128,
            num_attention_heads=24, joint_attention_dim=7680, timestep_guidance_channels=256, mlp_ratio=3.0,
            axes_dims_rope=(32, 32, 32, 32), rope_theta=2000, eps=1e-6, guidance_embeds=False,
        )
        text_encoder = Qwen3ForCausalLM(qwen3_config(2560, 36, 32, 8, 128, 9728, 151936))
        vae = AutoencoderKLFlux2()
    return Flux2KleinPipeline(
        scheduler=flux2_scheduler(), vae=_frozen(vae), text_encoder=_frozen(text_encoder),
        tokenizer=word_tokenizer(512, 151936, chat=True), transformer=_frozen(transformer), is_distilled=True,
    )


# ---------------------------------------------------------------- writing a weights directory


def save_pipelines(root: Path, pipelines: dict[str, Any]) -> dict[str, int]:
    """``save_pretrained`` each pipeline (or model) into ``root / folder``; returns each folder's bytes on disk."""
    sizes = {}
    for folder, pipeline in pipelines.items():
        target = root / folder
        pipeline.save_pretrained(target)
        sizes[folder] = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
    return sizes
