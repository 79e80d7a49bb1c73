// A tiled GEMM body shared by several kernels: C = op(A)·op(B), 64×64 output tiles,
// 16×16 threads each owning a 4×4 block (strided by 16 for coalesced stores), K in steps of 16
// through workgroup memory. The including kernel defines the element type `Scalar` (f32 for
// the float kernels; i32 for the language model's int8 ones, whose callers keep every sum
// within int32), `params` (with fields m, n, k) and
//   fn load_a(row: u32, kk: u32) -> Scalar    // A[row, kk]
//   fn load_b(kk: u32, col: u32) -> Scalar    // B[kk, col]
//   fn store_c(row: u32, col: u32, acc: Scalar)
// so operands may come from memory or be generated on the fly (noise), and the epilogue may
// add biases or per-member corrections.

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
// Row stride of the workgroup tiles: one more than the tile width, so the tile stores (16
// threads writing 16 different kk of one row) fall into different memory banks.
const STRIDE: u32 = 65u;

var<workgroup> tile_a: array<Scalar, 1040>; // [kk * STRIDE + mm], TILE_K × STRIDE
var<workgroup> tile_b: array<Scalar, 1040>; // [kk * STRIDE + nn]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m0 = wid.y * TILE_M;
    let n0 = wid.x * TILE_N;
    let tid = lid.y * 16u + lid.x;
    var acc: array<Scalar, 16>;
    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        for (var l = 0u; l < 4u; l++) {
            let e = tid + l * 256u;
            let kk = e % TILE_K;
            let rc = e / TILE_K;
            var va = Scalar(0);
            if (m0 + rc < params.m && k0 + kk < params.k) {
                va = load_a(m0 + rc, k0 + kk);
            }
            tile_a[kk * STRIDE + rc] = va;
            var vb = Scalar(0);
            if (n0 + rc < params.n && k0 + kk < params.k) {
                vb = load_b(k0 + kk, n0 + rc);
            }
            tile_b[kk * STRIDE + rc] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var a: array<Scalar, 4>;
            var b: array<Scalar, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = tile_a[kk * STRIDE + lid.y + 16u * i];
                b[i] = tile_b[kk * STRIDE + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += a[i] * b[j];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let row = m0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + lid.x + 16u * j;
            if (row < params.m && col < params.n) {
                store_c(row, col, acc[i * 4u + j]);
            }
        }
    }
}
