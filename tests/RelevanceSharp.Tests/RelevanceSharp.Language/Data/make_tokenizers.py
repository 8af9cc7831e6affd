#!/usr/bin/env python3
"""Makes the tiny tokenizer files the RelevanceSharp.Language tests read, and their reference encodings.

- tokenizer.model: a SentencePiece BPE model as LLaMA 2 and Mistral ship it (byte fallback, dummy prefix, digits
  split), trained with Debian's python3-sentencepiece on the corpus below.
- tokenizer.json: a byte-level BPE tokenizer as LLaMA 3 ships it (GPT-2's byte alphabet, LLaMA 3's split pattern,
  '<|begin_of_text|>' added in front by the post-processor), with merges learned here by plain BPE on the corpus.
- expected_sentencepiece.json: the ids python3-sentencepiece gives for the test texts.
Then run `node encode_reference.js` (after `npm install tokenizers@0.23.2` in a scratch folder, NODE_PATH set to its
node_modules) for expected_bpe.json: the ids Hugging Face's own tokenizers library gives for tokenizer.json.

Run from this folder: /usr/bin/python3 make_tokenizers.py
"""
import collections
import json
import os
import re
import tempfile

import sentencepiece as spm

CORPUS = """The capital of France is Paris. The capital of Germany is Berlin.
Paris is a city in France; Berlin is a city in Germany.
The quick brown fox jumps over the lazy dog. 12 apples and 345 pears cost 6789 coins.
Relevance shows which tokens of a prompt made the model say what it said.
Hello, world! It's a small model, isn't it? We'll see: they'd say it's fine.
key k3 value v7 key k1 value v2 query k3 answer v7
Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve r\u00e9sum\u00e9.
""" * 8

TEXTS = [
    "The capital of France is",
    "The capital of France is Paris.",
    "Hello, world! It's fine.",
    "  two spaces, then\nnew line",
    "12 apples and 12345 pears",
    "Caf\u00e9 cr\u00e8me",
    "\u65e5\u672c\u8a9e and an emoji \U0001F600",
    "key k3 value v7 query k3",
]

HERE = os.path.dirname(os.path.abspath(__file__))


def sentencepiece_model():
    with tempfile.TemporaryDirectory() as scratch:
        corpus = os.path.join(scratch, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write(CORPUS)
        prefix = os.path.join(scratch, "tokenizer")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=400, model_type="bpe", byte_fallback=True,
            split_digits=True, character_coverage=1.0, add_dummy_prefix=True, remove_extra_whitespaces=False,
            normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
            minloglevel=2)
        with open(prefix + ".model", "rb") as f:
            data = f.read()
    with open(os.path.join(HERE, "tokenizer.model"), "wb") as f:
        f.write(data)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(HERE, "tokenizer.model"))
    expected = [{"text": t, "ids": [sp.bos_id()] + sp.encode(t)} for t in TEXTS]
    with open(os.path.join(HERE, "expected_sentencepiece.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)


def bytes_to_unicode():
    """GPT-2's map of the 256 byte values to printable characters."""
    kept = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    chars = list(kept)
    extra = 0
    for b in range(256):
        if b not in kept:
            kept.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(kept, chars)}


def byte_level_bpe(merges_wanted=160):
    alphabet = bytes_to_unicode()
    # Approximate pre-tokenization (ASCII classes) for learning merges; encoding uses LLaMA 3's pattern.
    words = collections.Counter(
        "".join(alphabet[b] for b in w.encode("utf-8"))
        for w in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?[0-9]{1,3}| ?[^\s\w]+|\s+", CORPUS))
    splits = {w: list(w) for w in words}
    vocab = [alphabet[b] for b in range(256)]
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for w, count in words.items():
            parts = splits[w]
            for a, b in zip(parts, parts[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append([a, b])
        vocab.append(a + b)
        for w in words:
            parts, merged, i = splits[w], [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            splits[w] = merged
    ids = {token: i for i, token in enumerate(vocab)}
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i, s in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>",
                                                                    "ids": [len(vocab)],
                                                                    "tokens": ["<|begin_of_text|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": ids, "merges": merges},
    }
    with open(os.path.join(HERE, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
    with open(os.path.join(HERE, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(TEXTS, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    sentencepiece_model()
    byte_level_bpe()
