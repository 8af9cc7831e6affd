// Encodes texts.json with Hugging Face's tokenizers library (npm package 'tokenizers', 0.23.2) and tokenizer.json,
// writing expected_bpe.json: the reference ids the byte-level BPE tests compare with. See make_tokenizers.py.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

async function main() {
  const here = __dirname;
  const tokenizer = Tokenizer.fromFile(path.join(here, 'tokenizer.json'));
  const texts = JSON.parse(fs.readFileSync(path.join(here, 'texts.json'), 'utf8'));
  const expected = [];
  for (const text of texts) {
    const encoding = await tokenizer.encode(text);
    expected.push({ text, ids: Array.from(encoding.getIds()) });
  }
  fs.writeFileSync(path.join(here, 'expected_bpe.json'), JSON.stringify(expected, null, 1) + '\n');
}

main();
