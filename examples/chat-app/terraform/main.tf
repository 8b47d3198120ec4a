# DNS and network access for the chat service. The cluster, its node groups
# and the ingress-nginx load balancer are managed elsewhere; this module only
# wires the chat app to them.

data "aws_route53_zone" "main" {
  name         = var.zone_name
  private_zone = false
}

# chat.example.com -> the ingress-nginx load balancer.
resource "aws_route53_record" "chat" {
  zone_id = data.aws_route53_zone.main.zone_id
  name    = var.hostname
  type    = "CNAME"
  ttl     = var.dns_ttl
  records = [var.ingress_lb_hostname]
}

# The backend pods run on the general node group, PostgreSQL on the database
# node group; let the former reach the latter on the PostgreSQL port.
resource "aws_security_group_rule" "cluster_to_db" {
  description              = "PostgreSQL from the cluster nodes"
  type                     = "ingress"
  security_group_id        = var.db_security_group_id
  source_security_group_id = var.cluster_security_group_id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
}
