//! The command tree (docker's top-level commands and the `container`, `image`, `volume`,
//! `network` and `system` groups) and dispatch to the command modules.

use clap::Subcommand;

use crate::cmd::{
    auth, container, cp, exec, images, inspect, logs, network, ps, run, stats, system, transfer,
    update, volume,
};
use crate::error::Result;
use crate::http::Client;
use crate::lazy::Lazy;

/// docker's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and run a new container from an image
    Run(Lazy<Box<run::RunArgs>>),
    /// Create a new container
    Create(Lazy<Box<run::CreateArgs>>),
    /// Start one or more stopped containers
    Start(Lazy<container::StartArgs>),
    /// Stop one or more running containers
    Stop(Lazy<container::StopArgs>),
    /// Restart one or more containers
    Restart(Lazy<container::StopArgs>),
    /// Kill one or more running containers
    Kill(Lazy<container::KillArgs>),
    /// Remove one or more containers
    Rm(Lazy<container::RmArgs>),
    /// List containers
    Ps(Lazy<ps::PsArgs>),
    /// Fetch the logs of a container
    Logs(Lazy<logs::LogsArgs>),
    /// Execute a command in a running container
    Exec(Lazy<exec::ExecArgs>),
    /// Attach local standard input, output, and error streams to a running container
    Attach(Lazy<exec::AttachArgs>),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Lazy<container::NamesArgs>),
    /// Return low-level information on Docker objects
    Inspect(Lazy<inspect::InspectArgs>),
    /// Display the running processes of a container
    Top(Lazy<container::TopArgs>),
    /// Display a live stream of container(s) resource usage statistics
    Stats(Lazy<stats::StatsArgs>),
    /// List port mappings or a specific mapping for the container
    Port(Lazy<container::PortArgs>),
    /// Rename a container
    Rename(Lazy<container::RenameArgs>),
    /// Update configuration of one or more containers
    Update(Lazy<update::UpdateArgs>),
    /// Pause all processes within one or more containers
    Pause(Lazy<container::NamesArgs>),
    /// Unpause all processes within one or more containers
    Unpause(Lazy<container::NamesArgs>),
    /// Copy files/folders between a container and the local filesystem
    Cp(Lazy<cp::CpArgs>),
    /// List images
    Images(Lazy<images::ImagesArgs>),
    /// Download an image from a registry
    Pull(Lazy<transfer::PullArgs>),
    /// Upload an image to a registry
    Push(Lazy<transfer::PushArgs>),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(Lazy<images::TagArgs>),
    /// Remove one or more images
    Rmi(Lazy<images::RmiArgs>),
    /// Show the history of an image
    History(Lazy<images::HistoryArgs>),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(Lazy<transfer::SaveArgs>),
    /// Export a container's filesystem as a tar archive
    Export(Lazy<transfer::ExportArgs>),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(Lazy<container::DiffArgs>),
    /// Create a new image from a container's changes
    Commit(Lazy<transfer::CommitArgs>),
    /// Load an image from a tar archive or STDIN
    Load(Lazy<transfer::LoadArgs>),
    /// Import the contents from a tarball to create a filesystem image
    Import(Lazy<transfer::ImportArgs>),
    /// Authenticate to a registry
    Login(Lazy<auth::LoginArgs>),
    /// Log out from a registry
    Logout(Lazy<auth::LogoutArgs>),
    /// Show the berth version information
    Version(Lazy<system::VersionArgs>),
    /// Display system-wide information
    Info(Lazy<system::InfoArgs>),
    /// Get real time events from the server
    Events(Lazy<system::EventsArgs>),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// Manage berth
    #[command(subcommand)]
    System(system::SystemCmd),
}

/// `container COMMAND`
#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(Lazy<ps::PsArgs>),
    /// Create and run a new container from an image
    Run(Lazy<Box<run::RunArgs>>),
    /// Create a new container
    Create(Lazy<Box<run::CreateArgs>>),
    /// Start one or more stopped containers
    Start(Lazy<container::StartArgs>),
    /// Stop one or more running containers
    Stop(Lazy<container::StopArgs>),
    /// Restart one or more containers
    Restart(Lazy<container::StopArgs>),
    /// Kill one or more running containers
    Kill(Lazy<container::KillArgs>),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(Lazy<container::RmArgs>),
    /// Fetch the logs of a container
    Logs(Lazy<logs::LogsArgs>),
    /// Execute a command in a running container
    Exec(Lazy<exec::ExecArgs>),
    /// Attach to a running container
    Attach(Lazy<exec::AttachArgs>),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Lazy<container::NamesArgs>),
    /// Display detailed information on one or more containers
    Inspect(Lazy<KindInspectArgs>),
    /// Display the running processes of a container
    Top(Lazy<container::TopArgs>),
    /// Display a live stream of container(s) resource usage statistics
    Stats(Lazy<stats::StatsArgs>),
    /// List port mappings or a specific mapping for the container
    Port(Lazy<container::PortArgs>),
    /// Rename a container
    Rename(Lazy<container::RenameArgs>),
    /// Update configuration of one or more containers
    Update(Lazy<update::UpdateArgs>),
    /// Export a container's filesystem as a tar archive
    Export(Lazy<transfer::ExportArgs>),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(Lazy<container::DiffArgs>),
    /// Create a new image from a container's changes
    Commit(Lazy<transfer::CommitArgs>),
    /// Pause all processes within one or more containers
    Pause(Lazy<container::NamesArgs>),
    /// Unpause all processes within one or more containers
    Unpause(Lazy<container::NamesArgs>),
    /// Copy files/folders between a container and the local filesystem
    Cp(Lazy<cp::CpArgs>),
    /// Remove all stopped containers
    Prune(Lazy<container::PruneArgs>),
}

/// `image COMMAND`
#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List images
    #[command(visible_alias = "list")]
    Ls(Lazy<images::ImagesArgs>),
    /// Download an image from a registry
    Pull(Lazy<transfer::PullArgs>),
    /// Upload an image to a registry
    Push(Lazy<transfer::PushArgs>),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(Lazy<images::TagArgs>),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(Lazy<images::RmiArgs>),
    /// Display detailed information on one or more images
    Inspect(Lazy<KindInspectArgs>),
    /// Show the history of an image
    History(Lazy<images::HistoryArgs>),
    /// Save one or more images to a tar archive
    Save(Lazy<transfer::SaveArgs>),
    /// Load an image from a tar archive or STDIN
    Load(Lazy<transfer::LoadArgs>),
    /// Import the contents from a tarball to create a filesystem image
    Import(Lazy<transfer::ImportArgs>),
    /// Remove unused images
    Prune(Lazy<images::PruneArgs>),
}

/// `container inspect` / `image inspect`: inspect with the kind fixed.
#[derive(clap::Args, Debug)]
pub struct KindInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
}

/// Runs a command against the daemon; the exit code.
pub fn dispatch(client: &Client, cmd: Command) -> Result<i32> {
    use Command as C;
    match cmd {
        C::Run(a) => run::run(client, &a),
        C::Create(a) => run::create(client, &a),
        C::Start(a) => container::start(client, &a),
        C::Stop(a) => container::stop(client, &a, "stop"),
        C::Restart(a) => container::stop(client, &a, "restart"),
        C::Kill(a) => container::kill(client, &a),
        C::Rm(a) => container::rm(client, &a),
        C::Ps(a) => ps::ps(client, &a),
        C::Logs(a) => logs::logs(client, &a),
        C::Exec(a) => exec::exec(client, &a),
        C::Attach(a) => exec::attach(client, &a),
        C::Wait(a) => container::wait(client, &a),
        C::Inspect(a) => inspect::inspect(client, &a),
        C::Top(a) => container::top(client, &a),
        C::Stats(a) => stats::stats(client, &a),
        C::Port(a) => container::port(client, &a),
        C::Rename(a) => container::rename(client, &a),
        C::Update(a) => update::update(client, &a),
        C::Pause(a) => container::pause(client, &a, "pause"),
        C::Unpause(a) => container::pause(client, &a, "unpause"),
        C::Cp(a) => cp::cp(client, &a),
        C::Images(a) => images::images(client, &a),
        C::Pull(a) => transfer::pull(client, &a),
        C::Push(a) => transfer::push(client, &a),
        C::Tag(a) => images::tag(client, &a),
        C::Rmi(a) => images::rmi(client, &a),
        C::History(a) => images::history(client, &a),
        C::Save(a) => transfer::save(client, &a),
        C::Export(a) => transfer::export(client, &a),
        C::Diff(a) => container::diff(client, &a),
        C::Commit(a) => transfer::commit(client, &a),
        C::Load(a) => transfer::load(client, &a),
        C::Import(a) => transfer::import(client, &a),
        C::Login(a) => auth::login(client, &a),
        C::Logout(a) => auth::logout(&a),
        C::Version(a) => system::version(client, &a),
        C::Info(a) => system::info(client, &a),
        C::Events(a) => system::events(client, &a),
        C::Container(c) => container_cmd(client, c),
        C::Image(c) => image_cmd(client, c),
        C::Volume(c) => volume::run(client, &c),
        C::Network(c) => network::run(client, &c),
        C::System(c) => system::run(client, &c),
    }
}

fn container_cmd(client: &Client, cmd: ContainerCmd) -> Result<i32> {
    use ContainerCmd as C;
    match cmd {
        C::Ls(a) => ps::ps(client, &a),
        C::Run(a) => run::run(client, &a),
        C::Create(a) => run::create(client, &a),
        C::Start(a) => container::start(client, &a),
        C::Stop(a) => container::stop(client, &a, "stop"),
        C::Restart(a) => container::stop(client, &a, "restart"),
        C::Kill(a) => container::kill(client, &a),
        C::Rm(a) => container::rm(client, &a),
        C::Logs(a) => logs::logs(client, &a),
        C::Exec(a) => exec::exec(client, &a),
        C::Attach(a) => exec::attach(client, &a),
        C::Wait(a) => container::wait(client, &a),
        C::Inspect(a) => inspect::by_kind(
            client,
            &a.names,
            Some("container"),
            a.format.as_deref(),
            a.size,
        ),
        C::Top(a) => container::top(client, &a),
        C::Stats(a) => stats::stats(client, &a),
        C::Port(a) => container::port(client, &a),
        C::Rename(a) => container::rename(client, &a),
        C::Update(a) => update::update(client, &a),
        C::Export(a) => transfer::export(client, &a),
        C::Diff(a) => container::diff(client, &a),
        C::Commit(a) => transfer::commit(client, &a),
        C::Pause(a) => container::pause(client, &a, "pause"),
        C::Unpause(a) => container::pause(client, &a, "unpause"),
        C::Cp(a) => cp::cp(client, &a),
        C::Prune(a) => container::prune(client, &a),
    }
}

fn image_cmd(client: &Client, cmd: ImageCmd) -> Result<i32> {
    use ImageCmd as C;
    match cmd {
        C::Ls(a) => images::images(client, &a),
        C::Pull(a) => transfer::pull(client, &a),
        C::Push(a) => transfer::push(client, &a),
        C::Tag(a) => images::tag(client, &a),
        C::Rm(a) => images::rmi(client, &a),
        C::Inspect(a) => {
            inspect::by_kind(client, &a.names, Some("image"), a.format.as_deref(), false)
        }
        C::History(a) => images::history(client, &a),
        C::Save(a) => transfer::save(client, &a),
        C::Load(a) => transfer::load(client, &a),
        C::Import(a) => transfer::import(client, &a),
        C::Prune(a) => images::prune(client, &a),
    }
}
