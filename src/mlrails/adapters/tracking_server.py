"""The MLflow tracking server's ECS service: scale it, and ask what runs."""

from __future__ import annotations

from mlrails.adapters.clients import aws_errors, client
from mlrails.errors import ConfigError
from mlrails.tracking.leases import ServerState


class TrackingServer:
    """One ECS service, named by its ARN (``arn:aws:ecs:<region>:<account>:service/<cluster>/<name>``)."""

    def __init__(self, service_arn: str) -> None:
        parts = service_arn.split(":service/", 1)[-1].split("/")
        if not service_arn.startswith("arn:") or len(parts) != 2:
            raise ConfigError(
                f"{service_arn!r} is not an ECS service ARN in the long format (…:service/<cluster>/<name>)"
            )
        self.arn = service_arn
        self.cluster, self.service = parts

    def state(self) -> ServerState:
        with aws_errors(f"describing the tracking server's service {self.service}"):
            services = client("ecs").describe_services(cluster=self.cluster, services=[self.arn])["services"]
        if not services:
            raise ConfigError(f"the tracking server's service {self.arn} does not exist")
        return ServerState(desired=services[0]["desiredCount"], running=services[0]["runningCount"])

    def scale(self, tasks: int) -> None:
        with aws_errors(f"scaling the tracking server's service {self.service} to {tasks}"):
            client("ecs").update_service(cluster=self.cluster, service=self.arn, desiredCount=tasks)

    def session_target(self) -> str | None:
        """The Session Manager target of the running task's MLflow container (for a port
        forward through ECS Exec: ``ecs:<cluster>_<task id>_<runtime id>``); None while none runs."""
        ecs = client("ecs")
        with aws_errors("finding the tracking server's running task"):
            tasks = ecs.list_tasks(cluster=self.cluster, serviceName=self.service, desiredStatus="RUNNING")["taskArns"]
            if not tasks:
                return None
            described = ecs.describe_tasks(cluster=self.cluster, tasks=tasks[:1])["tasks"]
        for task in described:
            for container in task.get("containers", []):
                if container.get("runtimeId") and task.get("lastStatus") == "RUNNING":
                    return f"ecs:{self.cluster}_{task['taskArn'].rsplit('/', 1)[-1]}_{container['runtimeId']}"
        return None
