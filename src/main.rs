fn main() -> std::process::ExitCode {
    nsm::cmd::main().into()
}
