// char_lm: a character-level language model trained with simdrnn alone.
//
// The text is the license texts every Debian system ships in
// /usr/share/common-licenses (base-files), or the files named on the command
// line. Each byte present becomes one symbol of the vocabulary (V symbols);
// the first 90% of the text trains, the last 10% validates.
//
// Model: one-hot input (I = V, so weight_ih is the embedding) -> recurrent
// cell (--cell: Elman RNN with tanh, LSTM, optionally projected to --proj P,
// or GRU; L layers of H) -> output layer (weight_hy, bias_hy: O = V logits).
// Loss: softmax cross-entropy in nats per character, computed here.
//
// Training: truncated backpropagation through time. The training split is cut
// into N contiguous streams; each step takes the next T characters of every
// stream, starts from the state the previous chunk ended with (h_n -> h0 and,
// for an LSTM, c_n -> c0, detached: backward stops at the chunk's start,
// dh_n = dc_n = NULL), runs
// simdrnn_forward_training + simdrnn_backward, clips the gradient norm
// (simdrnn_clip_grad_norm), updates with Adam (simdrnn_adam_step) and loads the
// new parameters with simdrnn_model_set_params. Every buffer is allocated once,
// before the loop.
//
// It prints training and validation loss beside the unigram baseline (the
// training split's add-one-smoothed character frequencies, scored on the
// validation split), samples text from the trained model through the
// streaming API, writes the loss curve to a CSV and plots it to a PNG with
// examples/plot_loss.py (skipped, with a note, when python3 or matplotlib is
// missing), in --out-dir: by default the build directory, never the checkout.
//
// Exit status: full mode fails (1) unless the final validation loss is at
// least --target (25%) below the baseline; --quick (a few seconds, a small
// model, for the test suite) fails unless the losses decreased.
#include <simdrnn/simdrnn.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <utility>
#include <vector>
#include <dirent.h>

#ifndef CHAR_LM_PLOT_SCRIPT
#define CHAR_LM_PLOT_SCRIPT "examples/plot_loss.py"
#endif
// Where the CSV and PNG go unless --out-dir, --csv or --png say otherwise: the
// build directory (tests/examples.cmake sets it), so a run from the checkout
// does not litter it.
#ifndef CHAR_LM_OUT_DIR
#define CHAR_LM_OUT_DIR "."
#endif

namespace {

using simdrnn::check;
using Clock = std::chrono::steady_clock;

enum class CellKind { Rnn, Lstm, Gru };
const char* cell_name(CellKind c) { return c == CellKind::Lstm ? "lstm" : c == CellKind::Gru ? "gru" : "rnn"; }

struct Options {
  bool quick = false;
  CellKind cell = CellKind::Rnn;
  int64_t proj = 0;             // LSTM projection size (0: none)
  bool forget_bias_set = true;  // LSTM: forget-gate bias (bias_ih's f slice; bias_hh's f slice 0)
  float forget_bias = 1.0f;
  int64_t hidden = 256, layers = 1, seq = 64, batch = 32, steps = 1500;
  // lr, lr_final: -1 = the cell's default (4e-3 -> 4e-4 for the RNN, 8e-3 -> 8e-4 for LSTM and GRU;
  // --quick: 1e-2 -> 3e-3 for every cell).
  float lr = -1, lr_final = -1, clip = 5.0f, temperature = 0.8f, target = 0.25f;
  int64_t eval_every = 100, log_every = 10, sample_len = 300;
  int32_t threads = 2;
  uint64_t seed = 1234;
  double max_seconds = 165.0;  // training stops early past this (the run must fit in 3 minutes)
  std::string out_dir = CHAR_LM_OUT_DIR, csv, png, plot_script = CHAR_LM_PLOT_SCRIPT;  // csv, png: "" = default
  std::string prime = "The ";
  bool plot = true;
  // After training, the validation loss again with the trained weights stored in these precisions.
  std::vector<simdrnn_precision> precisions;
  std::vector<std::string> files;
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s [options] [text files...]\n"
      "Trains a character-level language model (Elman RNN, LSTM or GRU) with simdrnn\n"
      "(truncated BPTT, Adam). Without files it trains on /usr/share/common-licenses/*\n"
      "(Debian's license texts).\n"
      "  --quick            a few-second run with a small model (the test suite's mode):\n"
      "                     checks that the losses decrease\n"
      "  --cell C           rnn (tanh Elman), lstm or gru (default rnn)\n"
      "  --proj P           LSTM only: project h to P wide (PyTorch proj_size; default 0: none)\n"
      "  --forget-bias B    LSTM only: initial forget-gate bias, a number or 'uniform' (PyTorch's\n"
      "                     plain U(-k, k) init) (default 1: bias_ih's f slice = 1, bias_hh's = 0)\n"
      "  --hidden H         hidden size (default 256; quick 64)\n"
      "  --layers L         recurrent layers (default 1)\n"
      "  --seq T            BPTT chunk length (default 64; quick 32)\n"
      "  --batch N          parallel streams per step (default 32; quick 16)\n"
      "  --steps S          training steps (default 1500; quick 120)\n"
      "  --lr LR            Adam learning rate, decayed linearly to --lr-final (default rnn\n"
      "  --lr-final LR      4e-3 -> 4e-4, lstm and gru 8e-3 -> 8e-4; quick 1e-2 -> 3e-3)\n"
      "  --clip C           gradient-norm clip (default 5)\n"
      "  --eval-every K     validation every K steps (default 100; quick 40)\n"
      "  --threads K        threads for every simdrnn call (default 2)\n"
      "  --seed S           seed for initialisation and sampling (default 1234)\n"
      "  --max-seconds S    stop training after S seconds of wall time (default 165)\n"
      "  --target F         full mode passes when val <= (1-F) * unigram (default 0.25)\n"
      "  --sample-len K     characters to generate (default 300)\n"
      "  --temperature X    sampling temperature (default 0.8)\n"
      "  --prime TEXT       text fed to the model before sampling (default \"The \")\n"
      "  --out-dir DIR      where the loss CSV and PNG go (default %s, created if missing)\n"
      "  --csv PATH         loss CSV (default DIR/char_lm_CELL_loss.csv, CELL = rnn, lstm, lstm_projP\n"
      "                     or gru; quick: DIR/char_lm_quick_CELL_loss.csv)\n"
      "  --png PATH         loss-curve PNG (default as --csv, .png)\n"
      "  --plot-script P    the plotting script (default %s)\n"
      "  --no-plot          write the CSV only\n"
      "  --precision LIST   after training, the validation loss with the trained weights in bf16,\n"
      "                     int8 or both (LIST: bf16, int8, bf16,int8 or all); the run fails when\n"
      "                     bf16 is more than 0.5%% above f32 or int8 more than 2%%\n",
      argv0, CHAR_LM_OUT_DIR, CHAR_LM_PLOT_SCRIPT);
}

bool parse_args(int argc, char** argv, Options* o) {
  // --quick first changes the defaults; explicit options still override them.
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) {
      o->quick = true;
      o->hidden = 64, o->seq = 32, o->batch = 16, o->steps = 120, o->eval_every = 40, o->log_every = 5;
      o->sample_len = 120, o->max_seconds = 60;
    }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: expected %s after it\n", a.c_str(), what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--quick") continue;
    if (a == "-h" || a == "--help") {
      usage(argv[0]);
      std::exit(0);
    }
    if (a == "--cell") {
      const std::string c = value("rnn, lstm or gru");
      if (c == "rnn") o->cell = CellKind::Rnn;
      else if (c == "lstm") o->cell = CellKind::Lstm;
      else if (c == "gru") o->cell = CellKind::Gru;
      else {
        std::fprintf(stderr, "--cell: expected rnn, lstm or gru, got %s\n", c.c_str());
        return false;
      }
    } else if (a == "--proj") o->proj = std::atoll(value("a size"));
    else if (a == "--forget-bias") {
      const std::string b = value("a number or 'uniform'");
      o->forget_bias_set = b != "uniform";
      if (o->forget_bias_set) {
        char* end = nullptr;
        o->forget_bias = std::strtof(b.c_str(), &end);
        if (end == b.c_str() || *end != '\0') {
          std::fprintf(stderr, "--forget-bias: expected a number or 'uniform', got %s\n", b.c_str());
          return false;
        }
      }
    } else if (a == "--hidden") o->hidden = std::atoll(value("a size"));
    else if (a == "--layers") o->layers = std::atoll(value("a count"));
    else if (a == "--seq") o->seq = std::atoll(value("a length"));
    else if (a == "--batch") o->batch = std::atoll(value("a count"));
    else if (a == "--steps") o->steps = std::atoll(value("a count"));
    else if (a == "--lr") o->lr = std::strtof(value("a rate"), nullptr);
    else if (a == "--lr-final") o->lr_final = std::strtof(value("a rate"), nullptr);
    else if (a == "--clip") o->clip = std::strtof(value("a norm"), nullptr);
    else if (a == "--eval-every") o->eval_every = std::atoll(value("a count"));
    else if (a == "--threads") o->threads = std::atoi(value("a count"));
    else if (a == "--seed") o->seed = std::strtoull(value("a number"), nullptr, 10);
    else if (a == "--max-seconds") o->max_seconds = std::strtod(value("seconds"), nullptr);
    else if (a == "--target") o->target = std::strtof(value("a fraction"), nullptr);
    else if (a == "--sample-len") o->sample_len = std::atoll(value("a count"));
    else if (a == "--temperature") o->temperature = std::strtof(value("a temperature"), nullptr);
    else if (a == "--prime") o->prime = value("text");
    else if (a == "--out-dir") o->out_dir = value("a directory");
    else if (a == "--csv") o->csv = value("a path");
    else if (a == "--png") o->png = value("a path");
    else if (a == "--plot-script") o->plot_script = value("a path");
    else if (a == "--no-plot") o->plot = false;
    else if (a == "--precision") {
      std::string list = value("bf16, int8, bf16,int8 or all");
      if (list == "all") list = "bf16,int8";
      for (size_t start = 0; start <= list.size();) {
        const size_t end = std::min(list.find(',', start), list.size());
        const std::string item = list.substr(start, end - start);
        if (item == "bf16") o->precisions.push_back(SIMDRNN_PRECISION_BF16);
        else if (item == "int8") o->precisions.push_back(SIMDRNN_PRECISION_INT8);
        else {
          std::fprintf(stderr, "--precision: expected bf16, int8, bf16,int8 or all, got %s\n", item.c_str());
          return false;
        }
        start = end + 1;
      }
    }
    else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "unknown option %s (see --help)\n", a.c_str());
      return false;
    } else {
      o->files.push_back(a);
    }
  }
  // Learning rates not given: the mode's and the cell's defaults. The RNN does best at
  // 4e-3 (2e-3 and 8e-3 end higher); LSTM and GRU at 8e-3 (see README).
  const bool gated = o->cell != CellKind::Rnn;
  if (o->lr == -1) o->lr = o->quick ? 1e-2f : gated ? 8e-3f : 4e-3f;
  if (o->lr_final == -1) o->lr_final = o->quick ? 3e-3f : gated ? 8e-4f : 4e-4f;
  if (o->hidden < 1 || o->layers < 1 || o->seq < 1 || o->batch < 1 || o->steps < 1 || o->eval_every < 1 ||
      o->threads < 1 || o->sample_len < 0 || !(o->temperature > 0) || !(o->lr > 0) || !(o->lr_final >= 0) ||
      !(o->clip > 0)) {
    std::fprintf(stderr, "options out of range (see --help)\n");
    return false;
  }
  if (o->proj != 0 && (o->cell != CellKind::Lstm || o->proj < 1 || o->proj >= o->hidden)) {
    std::fprintf(stderr, "--proj P needs --cell lstm and 1 <= P < --hidden\n");
    return false;
  }
  if (o->csv.empty() || o->png.empty()) {  // a default path: it lives in out_dir
    const std::string stem =
        o->out_dir + (o->quick ? "/char_lm_quick_" : "/char_lm_") + cell_name(o->cell) +
        (o->proj > 0 ? "_proj" + std::to_string(o->proj) : std::string()) + "_loss";
    if (o->csv.empty()) o->csv = stem + ".csv";
    if (o->png.empty()) o->png = stem + ".png";
    if (mkdir(o->out_dir.c_str(), 0777) != 0 && errno != EEXIST)
      std::fprintf(stderr, "note: cannot create %s: %s\n", o->out_dir.c_str(), std::strerror(errno));
  }
  return true;
}

// splitmix64: a small, fully specified generator, so runs repeat everywhere.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

// The default corpus: every distinct regular file of /usr/share/common-licenses,
// by name (symlinks such as GPL -> GPL-3 and identical copies count once).
std::string default_corpus(std::vector<std::string>* used) {
  const std::string dir = "/usr/share/common-licenses";
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string text;
  std::vector<std::string> seen;
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // skip links, dirs
    std::string content;
    if (!read_file(path, &content) || content.empty()) continue;
    if (std::find(seen.begin(), seen.end(), content) != seen.end()) continue;
    seen.push_back(content);
    used->push_back(name);
    text += content;
  }
  return text;
}

// Owns a simdrnn_model (the C API: training needs the non-const handle).
// A copy of `model` whose weights are `params` stored in `precision`: every tensor by name.
simdrnn::Model with_precision(const simdrnn_model* model, const std::vector<float>& params,
                              simdrnn_precision precision) {
  simdrnn_config c{};
  check(simdrnn_model_config(model, &c));
  c.weight_precision = precision;
  simdrnn::Weights w(c);
  std::vector<std::string> names = {"weight_hy", "bias_hy"};
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const char* t : {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l", "weight_hr_l"})
      names.push_back(t + std::to_string(l));
  for (const std::string& name : names) {
    int64_t offset = -1, count = 0;
    check(simdrnn_model_param_offset(model, name.c_str(), &offset, &count));
    if (count > 0) w.set(name, params.data() + offset, count);
  }
  return simdrnn::Model(w);
}

struct ModelHandle {
  simdrnn_model* m = nullptr;
  ~ModelHandle() { simdrnn_model_destroy(m); }
};

// Cross-entropy of rows [rows, V] of logits against targets, in nats (summed).
// When dout is given it receives (softmax - onehot) * scale.
double softmax_xent(const float* logits, const int32_t* targets, int64_t rows, int64_t V, float* dout,
                    float scale) {
  double loss = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = logits + r * V;
    const float zmax = *std::max_element(z, z + V);
    double sum = 0;
    for (int64_t c = 0; c < V; ++c) sum += std::exp(static_cast<double>(z[c] - zmax));
    const double log_sum = std::log(sum);
    loss += log_sum - static_cast<double>(z[targets[r]] - zmax);
    if (dout) {
      float* d = dout + r * V;
      const double inv = scale / sum;
      for (int64_t c = 0; c < V; ++c) d[c] = static_cast<float>(std::exp(static_cast<double>(z[c] - zmax)) * inv);
      d[targets[r]] -= scale;
    }
  }
  return loss;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) try {
  const Clock::time_point t_start = Clock::now();
  Options opt;
  if (!parse_args(argc, argv, &opt)) return 2;

  // ---- text, vocabulary, split ----------------------------------------------------------
  std::string text;
  std::vector<std::string> sources;
  if (opt.files.empty()) {
    text = default_corpus(&sources);
    if (text.empty()) {
      std::fprintf(stderr, "no text: /usr/share/common-licenses is empty or missing; name a text file\n");
      return 2;
    }
  } else {
    for (const std::string& path : opt.files) {
      std::string content;
      if (!read_file(path, &content)) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 2;
      }
      text += content;
      sources.push_back(path);
    }
  }
  int32_t id_of[256];
  std::fill(id_of, id_of + 256, -1);
  bool present[256] = {};
  for (unsigned char c : text) present[c] = true;
  std::vector<unsigned char> symbol;  // id -> byte
  for (int c = 0; c < 256; ++c)
    if (present[c]) id_of[c] = static_cast<int32_t>(symbol.size()), symbol.push_back(static_cast<unsigned char>(c));
  const int64_t V = static_cast<int64_t>(symbol.size());
  std::vector<int32_t> data(text.size());
  for (size_t i = 0; i < text.size(); ++i) data[i] = id_of[static_cast<unsigned char>(text[i])];

  const int64_t n_all = static_cast<int64_t>(data.size());
  const int64_t n_train = n_all * 9 / 10, n_val = n_all - n_train;
  const int64_t T = opt.seq, N = opt.batch, H = opt.hidden, L = opt.layers;
  const bool lstm = opt.cell == CellKind::Lstm;
  const int64_t G = lstm ? 4 : opt.cell == CellKind::Gru ? 3 : 1;  // gates stacked in weight_ih/hh
  const int64_t H_out = opt.proj > 0 ? opt.proj : H;                // width of h (and of y)
  // Training: N contiguous streams of the training split, each stream_len + 1 long
  // (inputs and next-character targets). Validation: the same over the validation split.
  const int64_t stream_len = (n_train - 1) / N, val_stream_len = (n_val - 1) / N;
  if (stream_len < T || val_stream_len < 1) {
    std::fprintf(stderr, "text too short (%lld bytes) for batch %lld x seq %lld\n", static_cast<long long>(n_all),
                 static_cast<long long>(N), static_cast<long long>(T));
    return 2;
  }
  const int32_t* train = data.data();
  const int32_t* val = data.data() + n_train;

  // Unigram baseline: add-one-smoothed training frequencies, scored on exactly the
  // validation targets the model is scored on.
  std::vector<double> counts(V, 1.0);
  for (int64_t i = 0; i < n_train; ++i) counts[train[i]] += 1.0;
  const double total = static_cast<double>(n_train + V);
  double unigram = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < val_stream_len; ++t) unigram -= std::log(counts[val[n * val_stream_len + t + 1]] / total);
  unigram /= static_cast<double>(N * val_stream_len);
  double train_entropy = 0;  // for context: the same frequencies scored on the training split
  for (int64_t c = 0; c < V; ++c)
    if (counts[c] > 1.0) train_entropy -= (counts[c] - 1.0) / n_train * std::log((counts[c] - 1.0) / n_train);

  std::printf("simdrnn %s (isa %s): character-level language model, truncated BPTT + Adam\n",
              simdrnn::version().c_str(), simdrnn::isa_name(simdrnn::active_isa()).c_str());
  std::printf("text: %lld bytes from %zu file(s)", static_cast<long long>(n_all), sources.size());
  if (opt.files.empty()) {
    std::printf(" in /usr/share/common-licenses:");
    for (const std::string& s : sources) std::printf(" %s", s.c_str());
  }
  std::printf("\nvocabulary %lld symbols; train %lld chars, validation %lld chars\n", static_cast<long long>(V),
              static_cast<long long>(n_train), static_cast<long long>(n_val));

  // ---- model ----------------------------------------------------------------------------
  simdrnn_config config = simdrnn_config_default();
  config.input_size = V;
  config.hidden_size = H;
  config.num_layers = L;
  config.activation = SIMDRNN_TANH;
  config.cell = lstm ? SIMDRNN_CELL_LSTM : opt.cell == CellKind::Gru ? SIMDRNN_CELL_GRU : SIMDRNN_CELL_RNN;
  config.proj_size = opt.proj;
  config.gru_linear_before_reset = 1;  // PyTorch's nn.GRU
  config.output_size = V;
  ModelHandle model;
  {
    // PyTorch's nn.RNN / nn.LSTM / nn.GRU initialisation: every weight and bias
    // U(-1/sqrt(H), 1/sqrt(H)) (weight_hr too); the output layer's weight
    // U(-1/sqrt(H_out), 1/sqrt(H_out)), its bias zero. An LSTM's forget-gate
    // bias is then set to --forget-bias (bias_ih's f slice; bias_hh's f slice 0).
    Rng rng{opt.seed};
    auto uniform = [&](int64_t n, int64_t fan) {
      const float k = 1.0f / std::sqrt(static_cast<float>(fan));
      std::vector<float> v(static_cast<size_t>(n));
      for (float& x : v) x = static_cast<float>((2 * rng.uniform() - 1) * k);
      return v;
    };
    simdrnn::Weights w(config);
    for (int64_t l = 0; l < L; ++l) {
      const std::string s = std::to_string(l);
      std::vector<float> w_ih = uniform(G * H * (l == 0 ? V : H_out), H), w_hh = uniform(G * H * H_out, H);
      std::vector<float> b_ih = uniform(G * H, H), b_hh = uniform(G * H, H);
      if (lstm && opt.forget_bias_set) {  // gates i, f, g, o: f is rows H..2H
        std::fill(b_ih.begin() + H, b_ih.begin() + 2 * H, opt.forget_bias);
        std::fill(b_hh.begin() + H, b_hh.begin() + 2 * H, 0.0f);
      }
      w.set("weight_ih_l" + s, w_ih).set("weight_hh_l" + s, w_hh).set("bias_ih_l" + s, b_ih).set("bias_hh_l" + s, b_hh);
      if (opt.proj > 0) w.set("weight_hr_l" + s, uniform(opt.proj * H, H));
    }
    w.set("weight_hy", uniform(V * H_out, H_out)).set("bias_hy", std::vector<float>(static_cast<size_t>(V), 0.0f));
    check(simdrnn_model_create(w.get(), &model.m));
  }
  int64_t P = 0;
  check(simdrnn_model_num_params(model.m, &P));
  std::string cell_desc = lstm ? "LSTM" : opt.cell == CellKind::Gru ? "GRU" : "RNN tanh";
  if (opt.proj > 0) cell_desc += ", proj " + std::to_string(opt.proj);
  if (lstm) {
    char fb[32] = "uniform";
    if (opt.forget_bias_set) std::snprintf(fb, sizeof fb, "%g", opt.forget_bias);
    cell_desc += std::string(", forget bias ") + fb;
  }
  std::printf("model: one-hot(%lld) -> %s, %lld layer(s) x H=%lld -> linear(%lld); %lld parameters\n",
              static_cast<long long>(V), cell_desc.c_str(), static_cast<long long>(L), static_cast<long long>(H),
              static_cast<long long>(V), static_cast<long long>(P));
  std::printf("training: %lld steps of batch %lld x %lld chars, Adam lr %.1e -> %.1e, clip %.1f, %d threads\n",
              static_cast<long long>(opt.steps), static_cast<long long>(N), static_cast<long long>(T), opt.lr,
              opt.lr_final, opt.clip, opt.threads);

  // ---- buffers: all allocated here, none in the loop -------------------------------------
  std::vector<float> params(P), grads(P), adam_m(P, 0.0f), adam_v(P, 0.0f);
  check(simdrnn_model_get_params(model.m, params.data()));
  std::vector<float> x(T * N * V, 0.0f), logits(T * N * V), dout(T * N * V);
  std::vector<int32_t> targets(T * N);
  // Chunk state: h0 and h_n (and an LSTM's c0 and c_n), swapped after each chunk;
  // the validation has its own. c is empty (NULL pointers) for other cells.
  const int64_t c_count = lstm ? L * N * H : 0;
  std::vector<float> h_a(L * N * H_out, 0.0f), h_b(L * N * H_out, 0.0f), c_a(c_count, 0.0f), c_b(c_count, 0.0f);
  std::vector<float> hv_a(L * N * H_out), hv_b(L * N * H_out), cv_a(c_count), cv_b(c_count);
  auto ptr = [](std::vector<float>& v) { return v.empty() ? nullptr : v.data(); };

  simdrnn_forward_args fa{};  // one training chunk, time-major [T, N, *]
  fa.seq_len = T;
  fa.batch = N;
  fa.layout = SIMDRNN_TIME_MAJOR;
  fa.x = x.data();
  fa.out = logits.data();  // y = NULL: only the logits are needed
  fa.num_threads = opt.threads;
  size_t reserve_bytes = 0, fwd_ws_bytes = 0, bwd_ws_bytes = 0;
  check(simdrnn_training_reserve_size(model.m, &fa, &reserve_bytes));
  check(simdrnn_forward_workspace_size(model.m, &fa, &fwd_ws_bytes));
  check(simdrnn_backward_workspace_size(model.m, &fa, &bwd_ws_bytes));
  const int64_t val_last = val_stream_len % T;  // the validation's last, shorter chunk
  if (val_last) {
    simdrnn_forward_args last = fa;
    last.seq_len = val_last;
    size_t b = 0;
    check(simdrnn_forward_workspace_size(model.m, &last, &b));
    fwd_ws_bytes = std::max(fwd_ws_bytes, b);
  }
  std::vector<unsigned char> reserve(reserve_bytes), fwd_ws(fwd_ws_bytes), bwd_ws(bwd_ws_bytes);
  std::printf("buffers: training reserve %.2f MiB for a %lld x %lld chunk, forward workspace %.2f MiB, backward "
              "workspace %.2f MiB\n",
              reserve_bytes / 1048576.0, static_cast<long long>(T), static_cast<long long>(N),
              fwd_ws_bytes / 1048576.0, bwd_ws_bytes / 1048576.0);
  fa.workspace = fwd_ws.data();
  fa.workspace_size = fwd_ws.size();

  simdrnn_backward_args ba{};
  ba.forward = &fa;
  ba.reserve = reserve.data();
  ba.reserve_size = reserve.size();
  ba.dout = dout.data();  // dy = NULL, dh_n = NULL: truncated, nothing flows in from later chunks
  ba.grads = grads.data();
  ba.workspace = bwd_ws.data();
  ba.workspace_size = bwd_ws.size();
  ba.num_threads = opt.threads;

  // Fills x (one-hot) and targets for `steps` chars of N streams starting at `pos`.
  auto load_chunk = [&](const int32_t* src, int64_t slen, int64_t pos, int64_t steps) {
    std::fill(x.begin(), x.begin() + steps * N * V, 0.0f);
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t n = 0; n < N; ++n) {
        const int32_t* s = src + n * slen + pos + t;
        x[(t * N + n) * V + s[0]] = 1.0f;
        targets[t * N + n] = s[1];
      }
  };

  // Validation loss: the whole validation split as N streams, in chunks of T steps
  // carrying h, with the inference forward (simdrnn_forward).
  auto validate_with = [&](const simdrnn_model* m) {
    simdrnn_forward_args va = fa;
    std::fill(hv_a.begin(), hv_a.end(), 0.0f);
    std::fill(cv_a.begin(), cv_a.end(), 0.0f);
    double loss = 0;
    for (int64_t pos = 0; pos < val_stream_len; pos += T) {
      const int64_t steps = std::min(T, val_stream_len - pos);
      load_chunk(val, val_stream_len, pos, steps);
      va.seq_len = steps;
      va.h0 = hv_a.data();
      va.h_n = hv_b.data();
      va.c0 = ptr(cv_a);
      va.c_n = ptr(cv_b);
      check(simdrnn_forward(m, &va));
      std::swap(hv_a, hv_b);
      std::swap(cv_a, cv_b);
      loss += softmax_xent(logits.data(), targets.data(), steps * N, V, nullptr, 0);
    }
    return loss / static_cast<double>(N * val_stream_len);
  };
  auto validate = [&]() { return validate_with(model.m); };

  std::FILE* csv = std::fopen(opt.csv.c_str(), "w");
  if (!csv) std::fprintf(stderr, "note: cannot write %s; no loss CSV or PNG\n", opt.csv.c_str());
  if (csv) std::fprintf(csv, "step,chars,train_loss,val_loss,unigram,seconds\n");

  const double val0 = validate();
  std::printf("unigram baseline on validation: %.4f nats/char (%.3f bits/char); target <= %.4f (%.0f%% below)\n",
              unigram, unigram / std::log(2.0), (1 - opt.target) * unigram, 100 * opt.target);
  std::printf("(the training split's own unigram entropy: %.4f nats/char)\n", train_entropy);
  std::printf("%6s %10s %8s %8s %9s %7s %7s %7s\n", "step", "chars", "train", "val", "vs unigram", "|grad|",
              "ms/step", "time");
  std::printf("%6d %10d %8s %8.4f %+8.1f%% %7s %7s %6.1fs\n", 0, 0, "-", val0, 100 * (val0 / unigram - 1), "-", "-",
              seconds_since(t_start));
  if (csv) std::fprintf(csv, "0,0,,%.6f,%.6f,%.3f\n", val0, unigram, seconds_since(t_start));

  // ---- training loop ----------------------------------------------------------------------
  const Clock::time_point t_train = Clock::now();
  int64_t pos = 0, step = 0;
  double log_sum = 0, eval_sum = 0, first_train = -1, last_train = 0;
  int64_t log_count = 0, eval_count = 0;
  double step_seconds = 0, eval_step_seconds = 0;  // time in training steps alone (no validation)
  float grad_norm = 0;
  double val_loss = val0;
  bool stopped_early = false;
  const float scale = 1.0f / static_cast<float>(T * N);
  while (step < opt.steps) {
    if (pos + T > stream_len) {  // a new pass over the text: start the streams over from zero state
      pos = 0;
      std::fill(h_a.begin(), h_a.end(), 0.0f);
      std::fill(c_a.begin(), c_a.end(), 0.0f);
    }
    const Clock::time_point t_step = Clock::now();
    load_chunk(train, stream_len, pos, T);
    pos += T;
    fa.seq_len = T;
    fa.h0 = h_a.data();
    fa.h_n = h_b.data();
    fa.c0 = ptr(c_a);
    fa.c_n = ptr(c_b);
    check(simdrnn_forward_training(model.m, &fa, reserve.data(), reserve.size()));
    const double loss = softmax_xent(logits.data(), targets.data(), T * N, V, dout.data(), scale) / (T * N);
    check(simdrnn_backward(model.m, &ba));
    check(simdrnn_clip_grad_norm(grads.data(), P, opt.clip, &grad_norm, opt.threads));
    ++step;
    const double frac = opt.steps > 1 ? static_cast<double>(step - 1) / (opt.steps - 1) : 1.0;
    const float lr = static_cast<float>(opt.lr + (opt.lr_final - opt.lr) * frac);
    check(simdrnn_adam_step(params.data(), grads.data(), adam_m.data(), adam_v.data(), P, step, lr, 0.9f, 0.999f,
                            1e-8f, 0.0f, opt.threads));
    check(simdrnn_model_set_params(model.m, params.data()));
    std::swap(h_a, h_b);  // h_n of this chunk is h0 of the next (a copy: no gradient crosses)
    std::swap(c_a, c_b);  // and c_n is c0 (LSTM)
    const double dt = seconds_since(t_step);
    step_seconds += dt, eval_step_seconds += dt;

    if (first_train < 0) first_train = loss;
    log_sum += loss, ++log_count, eval_sum += loss, ++eval_count;
    const bool out_of_time = seconds_since(t_start) > opt.max_seconds;
    const bool last = step == opt.steps || out_of_time;
    const bool eval = step % opt.eval_every == 0 || last;
    if (step % opt.log_every == 0 || eval) {
      const double train_avg = log_sum / log_count;
      if (eval) val_loss = validate();
      if (csv) {
        std::fprintf(csv, "%lld,%lld,%.6f,", static_cast<long long>(step), static_cast<long long>(step * T * N),
                     train_avg);
        if (eval) std::fprintf(csv, "%.6f", val_loss);
        std::fprintf(csv, ",%.6f,%.3f\n", unigram, seconds_since(t_start));
      }
      log_sum = 0, log_count = 0;
    }
    if (eval) {
      last_train = eval_sum / eval_count;
      std::printf("%6lld %10lld %8.4f %8.4f %+8.1f%% %7.2f %7.1f %6.1fs\n", static_cast<long long>(step),
                  static_cast<long long>(step * T * N), last_train, val_loss, 100 * (val_loss / unigram - 1),
                  grad_norm, 1e3 * eval_step_seconds / eval_count, seconds_since(t_start));
      std::fflush(stdout);
      eval_sum = 0, eval_count = 0, eval_step_seconds = 0;
    }
    if (out_of_time && step < opt.steps) {
      stopped_early = true;
      std::printf("stopping after %lld of %lld steps: --max-seconds %.0f reached\n", static_cast<long long>(step),
                  static_cast<long long>(opt.steps), opt.max_seconds);
      break;
    }
  }
  const double train_seconds = seconds_since(t_train);
  if (csv) std::fclose(csv);

  // ---- sampling: a batch-1 stream of the trained model, fed its own samples --------------
  std::string prime;
  for (unsigned char c : opt.prime)
    if (id_of[c] >= 0) prime += static_cast<char>(c);
  if (prime.empty()) prime = std::string(1, static_cast<char>(symbol[train[0]]));
  std::string sample = prime;
  {
    const int64_t P_len = static_cast<int64_t>(prime.size());
    simdrnn_stream* stream = nullptr;
    check(simdrnn_stream_create(model.m, 1, P_len, &stream));
    std::vector<float> sx(P_len * V, 0.0f), sout(P_len * V), prob(V);
    for (int64_t t = 0; t < P_len; ++t) sx[t * V + id_of[static_cast<unsigned char>(prime[t])]] = 1.0f;
    simdrnn_status st = simdrnn_stream_step(stream, P_len, sx.data(), nullptr, sout.data(), opt.threads);
    const float* z = sout.data() + (P_len - 1) * V;  // logits after the last prime character
    Rng rng{opt.seed ^ 0x5A3F1E77ull};
    for (int64_t k = 0; st == SIMDRNN_OK && k < opt.sample_len; ++k) {
      const float zmax = *std::max_element(z, z + V);
      double sum = 0;
      for (int64_t c = 0; c < V; ++c) sum += prob[c] = static_cast<float>(std::exp((z[c] - zmax) / opt.temperature));
      double u = rng.uniform() * sum;
      int64_t c = 0;
      while (c < V - 1 && (u -= prob[c]) >= 0) ++c;
      sample += static_cast<char>(symbol[c]);
      std::fill(sx.begin(), sx.begin() + V, 0.0f);
      sx[c] = 1.0f;
      st = simdrnn_stream_step(stream, 1, sx.data(), nullptr, sout.data(), opt.threads);
      z = sout.data();
    }
    simdrnn_stream_destroy(stream);
    check(st);
  }

  // ---- results ------------------------------------------------------------------------------
  const double below = 100 * (1 - val_loss / unigram);
  std::printf("\nsample (temperature %.2f, primed with \"%s\"):\n----\n%s\n----\n", opt.temperature, prime.c_str(),
              sample.c_str());
  std::printf("%s: trained %lld steps (%lld chars, %.1f epochs) in %.1f s: %.1f ms/step with validation, "
              "%.1f ms/step training alone\n",
              cell_desc.c_str(), static_cast<long long>(step), static_cast<long long>(step * T * N),
              static_cast<double>(step * T * N) / n_train, train_seconds,
              1e3 * train_seconds / std::max<int64_t>(step, 1), 1e3 * step_seconds / std::max<int64_t>(step, 1));
  std::printf("validation %.4f nats/char (%.3f bits/char) vs unigram %.4f: %.1f%% below the baseline\n", val_loss,
              val_loss / std::log(2.0), unigram, below);

  // The trained model with its weights stored in bf16 or int8 (inference only): the same
  // validation, and how much worse the loss is than with the f32 weights.
  bool precision_ok = true;
  for (simdrnn_precision p : opt.precisions) {
    const bool bf16 = p == SIMDRNN_PRECISION_BF16;
    const simdrnn::Model reduced = with_precision(model.m, params, p);
    const double loss = validate_with(reduced.get());
    const double worse = 100 * (loss / val_loss - 1), allowed = bf16 ? 0.5 : 2.0;
    const bool ok = worse <= allowed;
    precision_ok = precision_ok && ok;
    std::printf("%s weights (%s kernels): validation %.4f nats/char, %+.2f%% vs f32 (allowed %.1f%%)%s\n",
                bf16 ? "bf16" : "int8", simdrnn::isa_name(reduced.isa()).c_str(), loss, worse, allowed,
                ok ? "" : " [over]");
  }

  if (csv && opt.plot) {
    struct stat st;
    if (stat("/usr/bin/python3", &st) != 0) {
      std::printf("note: /usr/bin/python3 not found; no PNG (the losses are in %s)\n", opt.csv.c_str());
    } else if (stat(opt.plot_script.c_str(), &st) != 0) {
      std::printf("note: plot script %s not found; no PNG (the losses are in %s)\n", opt.plot_script.c_str(),
                  opt.csv.c_str());
    } else {
      auto quote = [](const std::string& s) {
        std::string q = "'";
        for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
      };
      const std::string cmd =
          "/usr/bin/python3 " + quote(opt.plot_script) + " " + quote(opt.csv) + " " + quote(opt.png) + " " +
          std::to_string(opt.target) + " " + quote(cell_desc);
      std::fflush(stdout);
      int rc = std::system(cmd.c_str());
      if (rc != -1 && WIFEXITED(rc)) rc = WEXITSTATUS(rc);
      if (rc == 0)
        std::printf("loss curve: %s (data: %s)\n", opt.png.c_str(), opt.csv.c_str());
      else
        std::printf("note: plotting failed (exit %d); no PNG (the losses are in %s)\n", rc, opt.csv.c_str());
    }
  }
  std::printf("total time %.1f s\n", seconds_since(t_start));

  if (opt.quick) {
    const bool ok = val_loss < 0.9 * val0 && last_train < first_train && precision_ok;
    std::printf("%s: validation %.4f -> %.4f, training %.4f -> %.4f%s\n", ok ? "PASS" : "FAIL", val0, val_loss,
                first_train, last_train, precision_ok ? "" : "; a reduced precision lost more than allowed");
    return ok ? 0 : 1;
  }
  const bool ok = val_loss <= (1 - opt.target) * unigram && precision_ok;
  std::printf("%s: validation loss %.1f%% below the unigram baseline (target %.0f%%)%s%s\n", ok ? "PASS" : "FAIL",
              below, 100 * opt.target, stopped_early ? " [stopped early on time]" : "",
              precision_ok ? "" : "; a reduced precision lost more than allowed");
  return ok ? 0 : 1;
} catch (const simdrnn::Error& e) {
  std::fprintf(stderr, "simdrnn error (%s): %s\n", simdrnn_status_name(e.status()), e.what());
  return 1;
}
