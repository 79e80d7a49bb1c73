// Which noise stream a member uses and with which sign (eggroll-core's `Population::stream_of`
// and `sign_of`): antithetic members 2k and 2k+1 share stream k with signs +1 and -1.

fn member_stream(member: u32, antithetic: u32) -> u32 {
    return select(member, member / 2u, antithetic != 0u);
}

fn member_sign(member: u32, antithetic: u32) -> f32 {
    return select(1.0, -1.0, antithetic != 0u && (member & 1u) == 1u);
}
