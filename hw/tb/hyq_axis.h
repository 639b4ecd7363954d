// AXI-stream port access for the generic dataflow harness (axis_dut_tb.cpp).
//
// A DUT's stream ports differ in number and in Verilator C++ type (CData ... QData for
// <= 64 bits, VlWide<N> above), so hyq generates a small glue file per DUT (hyq.eda.stitch)
// that implements the functions below with the put/get helpers; the harness itself only
// sees 32-bit word arrays, lowest word first.
#pragma once
#include <cstdint>
#include <cstddef>

#include "Vdut.h"
#include "verilated.h"

template <typename T> static inline void hyq_put(T& sig, const uint32_t* w, std::size_t words) {
    uint64_t v = w[0];
    if (words > 1) v |= (uint64_t)w[1] << 32;
    sig = (T)v;
}
template <std::size_t N> static inline void hyq_put(VlWide<N>& sig, const uint32_t* w, std::size_t words) {
    for (std::size_t i = 0; i < N; ++i) sig[i] = i < words ? w[i] : 0u;
}
template <typename T> static inline void hyq_get(const T& sig, uint32_t* w, std::size_t words) {
    const uint64_t v = (uint64_t)sig;
    w[0] = (uint32_t)v;
    if (words > 1) w[1] = (uint32_t)(v >> 32);
    for (std::size_t i = 2; i < words; ++i) w[i] = 0;
}
template <std::size_t N> static inline void hyq_get(const VlWide<N>& sig, uint32_t* w, std::size_t words) {
    for (std::size_t i = 0; i < words; ++i) w[i] = i < N ? sig[i] : 0u;
}

// Implemented by the generated glue (one case per stream port).
extern const int HYQ_N_IN, HYQ_N_OUT;
extern const int HYQ_IN_BITS[], HYQ_OUT_BITS[];
void hyq_drive(Vdut& d, int i, const uint32_t* words, bool valid);  // in<i>_V TDATA/TVALID
bool hyq_in_ready(Vdut& d, int i);                                   // in<i>_V TREADY
void hyq_sink(Vdut& d, int j, bool ready);                            // out<j>_V TREADY
bool hyq_out_valid(Vdut& d, int j);                                   // out<j>_V TVALID
void hyq_out_data(Vdut& d, int j, uint32_t* words);                   // out<j>_V TDATA
