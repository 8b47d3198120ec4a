output "chat_fqdn" {
  description = "The hostname users open in their browser."
  value       = aws_route53_record.chat.fqdn
}

output "cluster_to_db_rule_id" {
  description = "ID of the security group rule that lets the cluster reach PostgreSQL."
  value       = aws_security_group_rule.cluster_to_db.id
}
