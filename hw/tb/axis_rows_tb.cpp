// Verilator harness for a streaming row operator with PE lanes on AXI-stream in and out.
//
// DUT ports: ap_clk, ap_rst_n, s_axis_{tdata,tvalid,tready}, m_axis_{tdata,tvalid,tready};
// lane i of a beat sits at bits [i*W +: W]. Compile-time defines: HYQ_PE, HYQ_IN_BITS,
// HYQ_OUT_BITS.
//
// usage: sim IN.txt OUT.txt
//   IN.txt : "n_in_beats n_out_beats seed p_valid p_ready max_cycles" then n_in_beats*PE
//            signed integers (lane 0 first).
//   OUT.txt: n_out_beats*PE unsigned integers, one per line.
// stdout : one JSON line {"cycles": .., "first_out": .., "in_beats": .., "out_beats": ..}.
// The source withholds tvalid and the sink withdraws tready at random (seeded), but a
// raised tvalid stays up with stable data until accepted, as AXI-stream requires.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

#include "Vdut.h"
#include "verilated.h"

#ifndef HYQ_PE
#error "define HYQ_PE, HYQ_IN_BITS and HYQ_OUT_BITS"
#endif

typedef std::vector<uint32_t> Bits;

static void set_field(Bits& b, int lsb, int w, uint64_t v) {
    for (int i = 0; i < w; ++i) {
        const int p = lsb + i;
        const uint32_t bit = (v >> i) & 1u;
        b[p / 32] = (b[p / 32] & ~(1u << (p % 32))) | (bit << (p % 32));
    }
}

static uint64_t get_field(const Bits& b, int lsb, int w) {
    uint64_t v = 0;
    for (int i = 0; i < w; ++i) {
        const int p = lsb + i;
        v |= (uint64_t)((b[p / 32] >> (p % 32)) & 1u) << i;
    }
    return v;
}

// Port <-> word-vector conversions for scalar (<= 64 bit) and wide ports.
template <typename T> static void store(T& sig, const Bits& b) {
    uint64_t v = b[0];
    if (b.size() > 1) v |= (uint64_t)b[1] << 32;
    sig = (T)v;
}
template <std::size_t N> static void store(VlWide<N>& sig, const Bits& b) {
    for (std::size_t i = 0; i < N; ++i) sig[i] = b[i];
}
template <typename T> static Bits load(const T& sig, std::size_t words) {
    Bits b(words, 0);
    const uint64_t v = (uint64_t)sig;
    b[0] = (uint32_t)v;
    if (words > 1) b[1] = (uint32_t)(v >> 32);
    return b;
}
template <std::size_t N> static Bits load(const VlWide<N>& sig, std::size_t words) {
    Bits b(words, 0);
    for (std::size_t i = 0; i < N && i < words; ++i) b[i] = sig[i];
    return b;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s IN.txt OUT.txt\n", argv[0]);
        return 2;
    }
    std::ifstream fin(argv[1]);
    long long n_in = 0, n_out = 0, max_cycles = 0;
    unsigned seed = 0;
    double p_valid = 1.0, p_ready = 1.0;
    if (!(fin >> n_in >> n_out >> seed >> p_valid >> p_ready >> max_cycles)) {
        std::fprintf(stderr, "bad header in %s\n", argv[1]);
        return 2;
    }
    const int PE = HYQ_PE, IW = HYQ_IN_BITS, OW = HYQ_OUT_BITS;
    const std::size_t in_words = (PE * IW + 31) / 32, out_words = (PE * OW + 31) / 32;
    std::vector<long long> xs((std::size_t)(n_in * PE));
    for (auto& x : xs) {
        if (!(fin >> x)) {
            std::fprintf(stderr, "too few input values in %s\n", argv[1]);
            return 2;
        }
    }

    VerilatedContext ctx;
    Vdut dut(&ctx);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> coin(0.0, 1.0);

    dut.ap_clk = 0;
    dut.ap_rst_n = 0;
    dut.s_axis_tvalid = 0;
    dut.m_axis_tready = 0;
    for (int i = 0; i < 4; ++i) {
        dut.ap_clk = 0; dut.eval();
        dut.ap_clk = 1; dut.eval();
    }
    dut.ap_rst_n = 1;

    std::vector<uint64_t> ys;
    ys.reserve((std::size_t)(n_out * PE));
    long long in_beat = 0, out_beat = 0, cyc = 0, first_out = -1;
    bool valid = false;
    Bits din(in_words, 0);
    for (; cyc < max_cycles && out_beat < n_out; ++cyc) {
        if (!valid && in_beat < n_in && coin(rng) < p_valid) {
            valid = true;
            for (int l = 0; l < PE; ++l)
                set_field(din, l * IW, IW, (uint64_t)xs[(std::size_t)(in_beat * PE + l)]);
            store(dut.s_axis_tdata, din);
        }
        dut.s_axis_tvalid = valid;
        dut.m_axis_tready = coin(rng) < p_ready;
        dut.ap_clk = 0;
        dut.eval();
        const bool in_fire = valid && dut.s_axis_tready;
        if (dut.m_axis_tvalid && dut.m_axis_tready) {
            const Bits dout = load(dut.m_axis_tdata, out_words);
            for (int l = 0; l < PE; ++l) ys.push_back(get_field(dout, l * OW, OW));
            if (first_out < 0) first_out = cyc;
            ++out_beat;
        }
        dut.ap_clk = 1;
        dut.eval();
        if (in_fire) {
            valid = false;
            ++in_beat;
        }
    }
    dut.final();
    if (out_beat < n_out) {
        std::fprintf(stderr, "timeout: %lld of %lld output beats after %lld cycles (%lld input beats taken)\n",
                     out_beat, n_out, cyc, in_beat);
        return 1;
    }
    std::ofstream fout(argv[2]);
    for (uint64_t y : ys) fout << y << "\n";
    std::printf("{\"cycles\": %lld, \"first_out\": %lld, \"in_beats\": %lld, \"out_beats\": %lld}\n",
                cyc, first_out, in_beat, out_beat);
    return 0;
}
