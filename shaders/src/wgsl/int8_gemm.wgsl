// A tiled integer GEMM body shared by the int8 kernels: C = A·B in int32 (exact: callers keep
// every sum within int32), 64×64 output tiles, 16×16 threads each owning a 4×4 block strided
// by 16, K in steps of 16 through workgroup memory. The including kernel defines `params`
// (with fields m, n, k) and
//   fn load_a(row: u32, kk: u32) -> i32    // A[row, kk]
//   fn load_b(kk: u32, col: u32) -> i32    // B[kk, col]
//   fn store_c(row: u32, col: u32, acc: i32)
// so operands may come from packed int8 memory or be regenerated noise.

const ITILE: u32 = 64u;
const ITILE_K: u32 = 16u;
// Row stride of the workgroup tiles, padded by one against bank conflicts on the stores.
const ISTRIDE: u32 = 65u;

var<workgroup> itile_a: array<i32, 1040>; // [kk * ISTRIDE + mm]
var<workgroup> itile_b: array<i32, 1040>; // [kk * ISTRIDE + nn]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m0 = wid.y * ITILE;
    let n0 = wid.x * ITILE;
    let tid = lid.y * 16u + lid.x;
    var acc: array<i32, 16>;
    for (var k0 = 0u; k0 < params.k; k0 += ITILE_K) {
        for (var l = 0u; l < 4u; l++) {
            let e = tid + l * 256u;
            let kk = e % ITILE_K;
            let rc = e / ITILE_K;
            var va = 0;
            if (m0 + rc < params.m && k0 + kk < params.k) {
                va = load_a(m0 + rc, k0 + kk);
            }
            itile_a[kk * ISTRIDE + rc] = va;
            var vb = 0;
            if (n0 + rc < params.n && k0 + kk < params.k) {
                vb = load_b(k0 + kk, n0 + rc);
            }
            itile_b[kk * ISTRIDE + rc] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < ITILE_K; kk++) {
            var a: array<i32, 4>;
            var b: array<i32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = itile_a[kk * ISTRIDE + lid.y + 16u * i];
                b[i] = itile_b[kk * ISTRIDE + lid.x + 16u * i];
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
