// Generic Verilator harness for a FINN-style dataflow DUT: any number of AXI-stream inputs
// (in<i>_V) and outputs (out<j>_V), clock ap_clk, active-low reset ap_rst_n.
//
// usage: sim CONTROL.txt [+plusarg ...]   (plusargs go to the design's $value$plusargs)
//   CONTROL.txt, whitespace separated:
//     max_cycles seed p_valid p_ready
//     then per input  stream: n_beats words.bin          (uint32 LE, ceil(bits/32) per beat)
//     then per output stream: n_beats words.bin cycles.bin (written: data, int64 cycle per beat)
//     then a trace path (.vcd / .fst, when built with HYQ_TRACE) or "-"
// stdout: one JSON line {"cycles", "in_first", "in_beats", "out_beats"}; exit 1 on timeout.
// Sources withhold TVALID and sinks TREADY at random (seeded) when p < 1; a raised TVALID
// stays up with stable data until accepted, as AXI-stream requires.
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "hyq_axis.h"
#if HYQ_TRACE == 1
#include "verilated_vcd_c.h"
typedef VerilatedVcdC Trace;
#elif HYQ_TRACE == 2
#include "verilated_fst_c.h"
typedef VerilatedFstC Trace;
#endif

static std::size_t words_of(int bits) { return (std::size_t)((bits + 31) / 32); }

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CONTROL.txt [+plusarg ...]\n", argv[0]);
        return 2;
    }
    std::ifstream ctl(argv[1]);
    long long max_cycles = 0;
    unsigned seed = 0;
    double p_valid = 1.0, p_ready = 1.0;
    if (!(ctl >> max_cycles >> seed >> p_valid >> p_ready)) {
        std::fprintf(stderr, "bad header in %s\n", argv[1]);
        return 2;
    }
    std::vector<long long> n_in(HYQ_N_IN), n_out(HYQ_N_OUT);
    std::vector<std::vector<uint32_t>> xs(HYQ_N_IN);
    std::vector<std::string> out_path(HYQ_N_OUT), cyc_path(HYQ_N_OUT);
    for (int i = 0; i < HYQ_N_IN; ++i) {
        std::string path;
        if (!(ctl >> n_in[i] >> path)) { std::fprintf(stderr, "missing input %d\n", i); return 2; }
        xs[i].resize((std::size_t)n_in[i] * words_of(HYQ_IN_BITS[i]));
        std::ifstream f(path, std::ios::binary);
        if (!f.read(reinterpret_cast<char*>(xs[i].data()), (std::streamsize)(xs[i].size() * 4))) {
            std::fprintf(stderr, "short input file %s\n", path.c_str());
            return 2;
        }
    }
    for (int j = 0; j < HYQ_N_OUT; ++j)
        if (!(ctl >> n_out[j] >> out_path[j] >> cyc_path[j])) { std::fprintf(stderr, "missing output %d\n", j); return 2; }
    std::string trace_path = "-";
    ctl >> trace_path;

    VerilatedContext ctx;
    ctx.commandArgs(argc, argv);
    Vdut dut(&ctx);
#ifdef HYQ_TRACE
    ctx.traceEverOn(true);
    Trace tfp;
    dut.trace(&tfp, 99);
    if (trace_path != "-") tfp.open(trace_path.c_str());
#endif
    long long t = 0;
    auto tick = [&](int clk) {
        dut.ap_clk = clk;
        dut.eval();
#ifdef HYQ_TRACE
        if (trace_path != "-") tfp.dump((uint64_t)t);
#endif
        ++t;
    };
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    std::vector<uint32_t> zero(256, 0);
    for (int i = 0; i < HYQ_N_IN; ++i) hyq_drive(dut, i, zero.data(), false);
    for (int j = 0; j < HYQ_N_OUT; ++j) hyq_sink(dut, j, false);
    dut.ap_rst_n = 0;
    for (int k = 0; k < 16; ++k) { tick(0); tick(1); }
    dut.ap_rst_n = 1;

    std::vector<long long> in_beat(HYQ_N_IN, 0), in_first(HYQ_N_IN, -1), out_beat(HYQ_N_OUT, 0);
    std::vector<bool> valid(HYQ_N_IN, false), ready(HYQ_N_OUT, false), in_fire(HYQ_N_IN, false);
    std::vector<std::vector<uint32_t>> ys(HYQ_N_OUT);
    std::vector<std::vector<long long>> ycyc(HYQ_N_OUT);
    std::vector<uint32_t> word(256);
    auto done = [&]() {
        for (int j = 0; j < HYQ_N_OUT; ++j) if (out_beat[j] < n_out[j]) return false;
        return true;
    };
    long long cyc = 0;
    for (; cyc < max_cycles && !done(); ++cyc) {
        for (int i = 0; i < HYQ_N_IN; ++i) {
            if (!valid[i] && in_beat[i] < n_in[i] && (p_valid >= 1.0 || coin(rng) < p_valid)) valid[i] = true;
            const std::size_t w = words_of(HYQ_IN_BITS[i]);
            hyq_drive(dut, i, valid[i] ? &xs[i][(std::size_t)in_beat[i] * w] : zero.data(), valid[i]);
        }
        for (int j = 0; j < HYQ_N_OUT; ++j) {
            ready[j] = p_ready >= 1.0 || coin(rng) < p_ready;
            hyq_sink(dut, j, ready[j]);
        }
        dut.ap_clk = 0;
        dut.eval();  // settle combinational ready/valid paths before sampling the handshakes
        for (int i = 0; i < HYQ_N_IN; ++i) in_fire[i] = valid[i] && hyq_in_ready(dut, i);
        for (int j = 0; j < HYQ_N_OUT; ++j) {
            if (ready[j] && hyq_out_valid(dut, j) && out_beat[j] < n_out[j]) {
                const std::size_t w = words_of(HYQ_OUT_BITS[j]);
                hyq_out_data(dut, j, word.data());
                ys[j].insert(ys[j].end(), word.begin(), word.begin() + (long)w);
                ycyc[j].push_back(cyc);
                ++out_beat[j];
            }
        }
        tick(0);
        tick(1);
        for (int i = 0; i < HYQ_N_IN; ++i) {
            if (in_fire[i]) {
                if (in_first[i] < 0) in_first[i] = cyc;
                valid[i] = false;
                ++in_beat[i];
            }
        }
    }
    dut.final();
#ifdef HYQ_TRACE
    if (trace_path != "-") tfp.close();
#endif
    for (int j = 0; j < HYQ_N_OUT; ++j) {
        std::ofstream f(out_path[j], std::ios::binary);
        f.write(reinterpret_cast<const char*>(ys[j].data()), (std::streamsize)(ys[j].size() * 4));
        std::ofstream c(cyc_path[j], std::ios::binary);
        c.write(reinterpret_cast<const char*>(ycyc[j].data()), (std::streamsize)(ycyc[j].size() * 8));
    }
    auto list = [](const std::vector<long long>& v) {
        std::string s = "[";
        for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
        return s + "]";
    };
    std::printf("{\"cycles\": %lld, \"in_first\": %s, \"in_beats\": %s, \"out_beats\": %s}\n", cyc,
                list(in_first).c_str(), list(in_beat).c_str(), list(out_beat).c_str());
    if (!done()) {
        std::fprintf(stderr, "timeout after %lld cycles: output beats %s of %s, input beats %s of %s\n", cyc,
                     list(out_beat).c_str(), list(n_out).c_str(), list(in_beat).c_str(), list(n_in).c_str());
        return 1;
    }
    return 0;
}
