"""Sound models assembled in code with random weights: tiny ones for CPU tests, full-size ones for the GPU
benchmark (the real architectures, so time and memory are the real models'; the sound is noise).

Same conventions as :mod:`filmstitch.testing.tiny_models`: nothing is downloaded, tokenizers are word-level
over a small vocabulary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel, StableAudio3Pipeline
from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import (
    PreTrainedTokenizerFast,
    SpeechT5Config,
    SpeechT5ForTextToSpeech,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
    T5GemmaConfig,
    T5GemmaEncoderModel,
)
from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

from filmstitch.testing.tiny_models import SPECIAL, WORDS, building_on, word_tokenizer

VOCAB = len(SPECIAL) + len(WORDS)
#: Voice ids of the tiny speaker table (the real one has the CMU ARCTIC speakers).
TINY_SPEAKERS = ("awb", "bdl", "clb", "slt")


def _wake(module: torch.nn.Module, seed: int, scale: float = 0.1) -> torch.nn.Module:
    """Give zero-initialised parameters (output projections, gates, which trained models learn) small random
    values, so a random tiny model's output depends on its input, as a trained one's does."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.numel() and not parameter.any():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return module


# ---------------------------------------------------------------- SpeechT5


def tiny_speecht5(seed: int = 0) -> tuple[SpeechT5ForTextToSpeech, SpeechT5HifiGan]:
    """SpeechT5 with 1+1 layers 16 wide, 20 mel bins, and a 2-stage HiFi-GAN (hop 16)."""
    torch.manual_seed(seed)
    config = SpeechT5Config(
        vocab_size=VOCAB, hidden_size=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=20,
        speech_decoder_prenet_units=16, speech_decoder_prenet_layers=2, speaker_embedding_dim=8,
        speech_decoder_postnet_layers=2, speech_decoder_postnet_units=16, speech_decoder_postnet_kernel=3,
        max_text_positions=128, max_speech_positions=512, pad_token_id=0, eos_token_id=1, bos_token_id=1,
        decoder_start_token_id=1, reduction_factor=2, positional_dropout=0.0, hidden_dropout=0.0,
    )
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=20, upsample_initial_channel=16, upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]], sampling_rate=16000,
    ))
    with torch.no_grad():  # a random vocoder whispers at 1e-7; make it audible, as a trained one is
        vocoder.conv_post.weight.mul_(2000.0)
    return SpeechT5ForTextToSpeech(config).eval(), vocoder.eval()


def save_tiny_speecht5(directory: Path, seed: int = 0) -> Path:
    """A tiny SpeechT5 weights folder in the engine's layout (speecht5_tts/, speecht5_hifigan/, speakers.npz)."""
    model, vocoder = tiny_speecht5(seed)
    model.save_pretrained(directory / "speecht5_tts")
    word_tokenizer(128).save_pretrained(directory / "speecht5_tts")
    vocoder.save_pretrained(directory / "speecht5_hifigan")
    rng = np.random.default_rng(seed)
    # numpy's stubs match a **dict of arrays against savez's allow_pickle: bool
    np.savez(directory / "speakers.npz",
             **{voice: rng.standard_normal(8).astype(np.float32) for voice in TINY_SPEAKERS})  # type: ignore[arg-type]
    return directory


def char_tokenizer(max_length: int = 600) -> PreTrainedTokenizerFast:
    """A character-level tokenizer with SpeechT5's 81-id vocabulary size (its real one is character-level
    SentencePiece), so a line has about as many tokens as the real tokenizer gives it."""
    chars = list(" abcdefghijklmnopqrstuvwxyz'.,!?-:;\"")
    vocab = {token: i for i, token in enumerate((*SPECIAL, *chars))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[("[EOS]", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", eos_token="[EOS]",
                                   unk_token="[UNK]", model_max_length=max_length)


def full_speecht5(device: str | torch.device = "cuda") -> tuple[SpeechT5ForTextToSpeech, SpeechT5HifiGan]:
    """microsoft/speecht5_tts's and speecht5_hifigan's architectures (their default configs), random weights."""
    with building_on(device, torch.float32):
        model = SpeechT5ForTextToSpeech(SpeechT5Config())
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig())
    return model.eval(), vocoder.eval()


# ---------------------------------------------------------------- Stable Audio 3


def _t5gemma_encoder(hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int, intermediate: int,
                     vocab: int) -> T5GemmaEncoderModel:
    module = {"vocab_size": vocab, "hidden_size": hidden, "intermediate_size": intermediate,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
              "head_dim": head_dim, "max_position_embeddings": 512, "pad_token_id": 0, "eos_token_id": 1,
              "bos_token_id": 1, "sliding_window": 4096, "layer_types": ["full_attention"] * layers}
    config = T5GemmaConfig(encoder=T5GemmaModuleConfig(**module), decoder=T5GemmaModuleConfig(**module),
                           vocab_size=vocab, is_encoder_decoder=False)
    return T5GemmaEncoderModel(config).eval()


def tiny_stable_audio3(seed: int = 0, sampling_rate: int = 8000) -> StableAudio3Pipeline:
    """Stable Audio 3 with a 1-layer DiT 32 wide, a 1-layer SAME autoencoder and a 1-layer
    T5Gemma encoder at 8 kHz (256x downsampling): tens of seconds of stereo in well under a second on a CPU."""
    torch.manual_seed(seed)
    vae = AutoencoderSAME(patch_size=64, encoder_channels=16, encoder_c_mults=(2,), encoder_strides=(4,),
                          encoder_transformer_depths=(1,), latent_dim=8, dim_heads=8, ff_mult=2,
                          sampling_rate=sampling_rate)
    transformer = StableAudio3DiTModel(io_channels=8, embed_dim=32, depth=1, num_heads=2, cond_token_dim=32,
                                       global_cond_dim=32, local_add_cond_dim=9, timestep_features_dim=16,
                                       num_memory_tokens=4)
    _wake(vae, seed + 1)
    _wake(transformer, seed + 2)
    return StableAudio3Pipeline(
        vae=vae.eval(), text_encoder=_t5gemma_encoder(32, 1, 2, 1, 16, 37, VOCAB), tokenizer=word_tokenizer(64),
        duration_embedder=StableAudio3DurationEmbedder(output_dim=32, fourier_dim=16),
        transformer=transformer.eval(), scheduler=FlowMatchEulerDiscreteScheduler(stochastic_sampling=True),
    )


def full_stable_audio3(device: str | torch.device = "cuda",
                       dtype: torch.dtype = torch.bfloat16) -> StableAudio3Pipeline:
    """Stable Audio 3 Medium's architecture (DiT 1536x24, SAME-L autoencoder, T5Gemma-B encoder), random weights."""
    with building_on(device, dtype):
        vae = AutoencoderSAME(encoder_channels=256, encoder_transformer_depths=(12,), decoder_sinusoidal_blocks=(8,))
        transformer = StableAudio3DiTModel()
        encoder = _t5gemma_encoder(768, 12, 12, 12, 64, 2048, 256_000)
        durations = StableAudio3DurationEmbedder()
    return StableAudio3Pipeline(
        vae=vae.eval(), text_encoder=encoder, tokenizer=word_tokenizer(256, 256_000), duration_embedder=durations,
        transformer=transformer.eval(), scheduler=FlowMatchEulerDiscreteScheduler(stochastic_sampling=True),
    )
