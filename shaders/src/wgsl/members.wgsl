// Which noise stream a member uses and with which sign (eggroll-core's `Population::stream_of`
// and `sign_of`): antithetic members 2k and 2k+1 share stream k with signs +1 and -1.
// `flags` is core's `Population::member_flags`: bit 0 = antithetic, bits 1.. = the baseline
// group size G (0 = none); members with member mod G < 2 run unperturbed (sign 0).

fn member_stream(member: u32, flags: u32) -> u32 {
    return select(member, member / 2u, (flags & 1u) != 0u);
}

fn member_sign(member: u32, flags: u32) -> f32 {
    // A uniform branch: plain populations (G = 0) never take the modulo.
    let g = flags >> 1u;
    if (g != 0u && (member % g) < 2u) {
        return 0.0;
    }
    return select(1.0, -1.0, (flags & 1u) != 0u && (member & 1u) == 1u);
}
