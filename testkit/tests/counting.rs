//! The counting allocator sees an allocation on this thread and on others.

#[global_allocator]
static A: testkit::Counting = testkit::Counting::new();

#[test]
fn counts_this_threads_allocations_and_every_threads() {
    let (thread_before, total_before) = (testkit::thread_allocations(), A.allocations());
    let v = std::hint::black_box(vec![1u8; 64]);
    assert_eq!(testkit::thread_allocations() - thread_before, 1);
    assert!(A.allocations() - total_before >= 1);
    drop(v);

    let thread_before = testkit::thread_allocations();
    let total_before = A.allocations();
    std::thread::spawn(|| std::hint::black_box(vec![0u8; 64]).len()).join().unwrap();
    assert!(A.allocations() > total_before, "another thread's allocation is counted in the total");
    // Spawning allocates on this thread too; the other thread's vector does not count here.
    let here = testkit::thread_allocations() - thread_before;
    assert!(here < A.allocations() - total_before);
}
